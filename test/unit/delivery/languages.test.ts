import { browserTagAliases, languageInfo } from '../../../src/delivery/language-list';
import { fallbackChain, negotiateLanguage, parseAcceptLanguage } from '../../../src/delivery/languages';

describe('Accept-Language', () => {
  it('orders ranges by quality, then by their place in the header, and drops q=0 and malformed ones', () => {
    expect(parseAcceptLanguage('fr;q=0.5, de-AT, en;q=0.9, x_bad, it;q=0, es;q=0.9')).toEqual(['de-at', 'en', 'es', 'fr']);
    expect(parseAcceptLanguage(undefined)).toEqual([]);
    expect(parseAcceptLanguage('')).toEqual([]);
  });

  it.each([
    ['fr;q=abc, de;q=0.9', ['de']],
    ['fr;q=1.5, de', ['de']],
    ['fr;q=2, de;q=0.5', ['de']],
    ['fr;q=0.1;q=0.9, de;q=0.5', ['de']],
    ['fr;q = 0.1, de;q=0.9', ['de']],
  ])('skips an entry whose q is not a qvalue, rather than read it as q=1: %s', (header, ranges) => {
    expect(parseAcceptLanguage(header)).toEqual(ranges);
    expect(negotiateLanguage(header, ['de', 'en', 'fr'], 'en')).toBe('de');
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
    // `*` tied with a named range is skipped (RFC 4647 lookup); only as the best remaining range does it mean the default.
    ['*, de', 'de'],
    ['*, fr, de', 'de'],
    ['*;q=0.9, de;q=0.9', 'de'],
    ['*, de;q=0.5', 'en'],
    ['de;q=0.5, *', 'en'],
    ['fr, de;q=0.5, *;q=0.5', 'de'],
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

describe('a language the list lacks', () => {
  it('takes its direction from Intl.Locale#getTextInfo() on engines that have the method and no textInfo property', () => {
    const proto = Intl.Locale.prototype as unknown as Record<string, unknown>;
    const property = Object.getOwnPropertyDescriptor(proto, 'textInfo');
    const method = Object.getOwnPropertyDescriptor(proto, 'getTextInfo');
    const direction = (tag: string) => (['ur', 'ckb', 'yi'].includes(tag.split('-')[0]) ? 'rtl' : 'ltr');
    try {
      if (property) delete proto.textInfo;
      Object.defineProperty(proto, 'getTextInfo', {
        configurable: true,
        value(this: Intl.Locale) {
          return { direction: direction(this.language) };
        },
      });
      expect(languageInfo('ur').dir).toBe('rtl');
      expect(languageInfo('yi').dir).toBe('rtl');
      expect(languageInfo('hr').dir).toBe('ltr');
    } finally {
      delete proto.getTextInfo;
      if (method) Object.defineProperty(proto, 'getTextInfo', method);
      if (property) Object.defineProperty(proto, 'textInfo', property);
    }
    expect(languageInfo('ur').dir).toBe('rtl');
  });
});
