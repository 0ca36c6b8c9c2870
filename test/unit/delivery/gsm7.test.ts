import { GSM7_BASIC, GSM7_EXTENSION, isGsm7 } from '../../../src/delivery/gsm7';

describe('the GSM-7 check', () => {
  it('holds the 127 characters of the basic set (without the escape) and the 10 of the extension table', () => {
    expect(GSM7_BASIC.size).toBe(127);
    expect(GSM7_EXTENSION.size).toBe(10);
    expect(GSM7_BASIC.has('\u001b')).toBe(false);
  });

  it('takes all of printable ASCII but the backtick, basic set and extension table together', () => {
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
    expect(printable.filter((char) => !isGsm7(char))).toEqual(['`']);
    expect(isGsm7('[]{}\\^~|€ and form feed \f')).toBe(true);
  });

  it.each([
    ['plain ASCII', '123456 is your Example Chat verification code.', true],
    ['German in the basic set (ä, ö, ü, ß, Ä, Ö, Ü)', '123456 ist Ihr Bestätigungscode für Grüße. Öl, Übel, Ärger, Straße.', true],
    ['French in the basic set', 'Votre code: 123456, à bientôt? Non: é, è, ù, ì, ò, Ç', false],
    ['German quotation marks', '123456 ist Ihr Code für „Plauderecke“.', false],
    ['Chinese', '123456 是您的聊天验证码。', false],
    ['an emoji', 'Code 123456 🎉', false],
    ['Greek capitals the basic set has', 'ΔΦΓΛΩΠΨΣΘΞ', true],
    ['a Greek small letter', 'α', false],
    ['a tab', 'a\tb', false],
  ])('%s', (_what, text, expected) => {
    expect(isGsm7(text)).toBe(expected);
  });
});
