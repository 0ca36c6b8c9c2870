import { browserTagAliases } from '../../../src/delivery/language-list';
import { fallbackChain, negotiateLanguage, parseAcceptLanguage } from '../../../src/delivery/languages';

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

  const shipped = ['ar', 'de', 'en', 'fa', 'he', 'nb-NO', 'pt', 'pt-BR', 'zh-Hans', 'zh-Hant'];
  it.each([
    ['zh-CN', 'zh-Hans'],
    ['zh-SG', 'zh-Hans'],
    ['zh-TW', 'zh-Hant'],
    ['zh-HK', 'zh-Hant'],
    ['zh-MO', 'zh-Hant'],
    ['zh-Hant-TW', 'zh-Hant'],
    ['no', 'nb-NO'],
    ['nb', 'nb-NO'],
    ['nn', 'nb-NO'],
    ['pt-PT', 'pt'],
    ['pt-BR', 'pt-BR'],
    ['he-IL', 'he'],
    ['iw', 'he'],
    ['de-DE', 'de'],
    ['fr, zh-tw;q=0.8', 'zh-Hant'],
  ])('the browser’s %s reaches the catalog %s through the list of languages', (header, language) => {
    expect(negotiateLanguage(header, shipped, 'en', browserTagAliases(shipped))).toBe(language);
  });

  it('maps a browser tag only to a language there is a catalog for', () => {
    expect(negotiateLanguage('zh-TW', ['de', 'en'], 'en', browserTagAliases(['de', 'en']))).toBe('en');
  });

  it('falls back down the chain: pt-BR, pt, the default language, English', () => {
    expect(fallbackChain('pt-BR', 'de')).toEqual(['pt-BR', 'pt', 'de', 'en']);
    expect(fallbackChain('en', 'en')).toEqual(['en']);
  });
});
