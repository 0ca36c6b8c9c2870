import { negotiateLanguage, parseAcceptLanguage } from '../../../src/delivery/languages';

describe('Accept-Language', () => {
  it('orders ranges by quality, then by their place in the header, and drops q=0 and malformed ones', () => {
    expect(parseAcceptLanguage('fr;q=0.5, de-AT, en;q=0.9, x_bad, it;q=0, es;q=0.9')).toEqual(['de-at', 'en', 'es', 'fr']);
    expect(parseAcceptLanguage(undefined)).toEqual([]);
    expect(parseAcceptLanguage('')).toEqual([]);
    expect(parseAcceptLanguage('de;q=2')).toEqual(['de']); // an invalid q is ignored, not trusted
  });

  it('ignores a header too long to be a browser’s', () => {
    expect(parseAcceptLanguage(`de, ${'x-aaaaaaaa,'.repeat(200)}`)).toEqual([]);
  });

  const available = ['de', 'en', 'pt-BR'];
  it.each([
    ['de-DE,de;q=0.9,en;q=0.8', 'de'],
    ['de-AT', 'de'],
    ['en-GB,en;q=0.9', 'en'],
    ['fr-FR, de;q=0.5', 'de'],
    ['pt', 'pt-BR'],
    ['PT-br', 'pt-BR'],
    ['fr', 'en'],
    ['*', 'en'],
    ['fr, *;q=0.5, de;q=0.1', 'en'],
    [undefined, 'en'],
  ])('%s → %s', (header, language) => {
    expect(negotiateLanguage(header, available, 'en')).toBe(language);
  });

  it('falls back to the default language given, not always English', () => {
    expect(negotiateLanguage('ja', available, 'de')).toBe('de');
    expect(negotiateLanguage(undefined, available, 'de')).toBe('de');
  });
});
