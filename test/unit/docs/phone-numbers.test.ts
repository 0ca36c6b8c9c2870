import { parsePhoneNumber } from '../../../src/threepid/msisdn';
import { docFiles, readDoc } from '../../support/doc-blocks';

/**
 * A number the README or docs/ show must be one the module takes: Ofcom's drama
 * range (+44 7700 900xxx), say, is refused by libphonenumber as unassigned,
 * and an operator trying it would think the module broken.
 */
describe('the phone numbers in the README and docs/', () => {
  const readme = docFiles().map(readDoc).join('\n');
  // International numbers of 8 digits or more, spaced or not (shorter runs such as "+44 7624" name a range).
  const numbers = [...readme.matchAll(/\+\d(?:[ .-]?\d){7,14}(?!\d)/g)].map((match) => match[0]);
  // National UK mobiles (07xxx xxxxxx), as a British reader would write one.
  const national = [...readme.matchAll(/(?<![\d+])07\d{3} ?\d{6}(?!\d)/g)].map((match) => match[0]);

  it('are found', () => {
    expect(numbers.length).toBeGreaterThan(0);
  });

  it.each([...numbers.map((n) => ['international', n]), ...national.map((n) => ['GB', n])])('%s %s parses as valid', (from, number) => {
    expect(() => parsePhoneNumber(from === 'GB' ? 'GB' : 'US', number)).not.toThrow();
  });

  it('a drama-range number would be caught', () => {
    expect(() => parsePhoneNumber('GB', '+44 7700 900123')).toThrow();
    expect(() => parsePhoneNumber('GB', '07700 900123')).toThrow();
  });
});
