import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Catalogs } from '../../../src/delivery/catalogs';
import { EMAIL_TEMPLATE_FILES, expiryView } from '../../../src/delivery/email-sender';
import { LANGUAGE_TAG } from '../../../src/delivery/languages';
import { languageList, SHIPPED_MESSAGES_DIR } from '../../../src/delivery/language-list';
import { messageSignature, parseMessage } from '../../../src/delivery/message-format';
import { SMS_TEMPLATE_FILES } from '../../../src/delivery/sms-senders';
import { Templates } from '../../../src/delivery/templates';
import { PAGE_TEMPLATE_FILES } from '../../../src/http/link-page';
import { removeDir, tempDir } from '../../support/harness';

const ALL_FILES = [...EMAIL_TEMPLATE_FILES, ...SMS_TEMPLATE_FILES, ...PAGE_TEMPLATE_FILES];

/**
 * Entries that may read as the English one does, per language: names and
 * words a language borrows as they are. Anything else equal to English is
 * an untranslated string.
 */
const INTENTIONALLY_IDENTICAL: Readonly<Record<string, readonly string[]>> = {};

type Catalog = Record<string, string>;
const catalogFiles = readdirSync(SHIPPED_MESSAGES_DIR).filter((name) => name.endsWith('.json') && name !== 'languages.json');
const catalog = (tag: string): Catalog => JSON.parse(readFileSync(path.join(SHIPPED_MESSAGES_DIR, `${tag}.json`), 'utf8'));
const shippedTags = catalogFiles.map((name) => name.replace(/\.json$/, ''));
const english = catalog('en');
/** A signature with plural forms left out: each language has its own. */
const shape = (message: string, tag: string) => messageSignature(parseMessage(message, tag));

describe('the shipped catalogs', () => {
  it('are one file per language, each named in the list of languages', () => {
    expect(shippedTags).toEqual(expect.arrayContaining(['en', 'de']));
    for (const tag of shippedTags) {
      expect({ tag, listed: languageList().has(tag) }).toEqual({ tag, listed: true });
    }
  });

  it('are the 28 languages the README promises, right-to-left ones included, written out here rather than read from the list', () => {
    const promised = ['ar', 'cs', 'da', 'de', 'en', 'es', 'et', 'fa', 'fi', 'fr', 'he', 'hu', 'it', 'ja', 'ko', 'nb-NO', 'nl', 'pl', 'pt', 'pt-BR', 'ru', 'sk', 'sv', 'tr', 'uk', 'uz', 'zh-Hans', 'zh-Hant'];
    expect(promised).toHaveLength(28);
    expect([...shippedTags].sort()).toEqual([...promised].sort());
    expect([...languageList().keys()].sort()).toEqual([...promised].sort());
    expect([...languageList()].filter(([, info]) => info.dir === 'rtl').map(([tag]) => tag).sort()).toEqual(['ar', 'fa', 'he']);
  });

  it('are one for every language the list names: a listed language ships whole', () => {
    expect([...languageList().keys()].filter((tag) => !shippedTags.includes(tag))).toEqual([]);
  });

  it('list each language with its native name, direction and browser tags, no browser tag twice', () => {
    const seen = new Set<string>();
    for (const [tag, info] of languageList()) {
      expect(tag).toMatch(LANGUAGE_TAG);
      expect(info.name.length).toBeGreaterThan(0);
      expect(['ltr', 'rtl']).toContain(info.dir);
      for (const alias of info.browserTags) {
        expect(alias).toMatch(LANGUAGE_TAG);
        expect({ alias, twice: seen.has(alias.toLowerCase()) || languageList().has(alias) }).toEqual({ alias, twice: false });
        seen.add(alias.toLowerCase());
      }
    }
  });

  it.each(shippedTags)('%s has every English key in English order, no other, each with the same placeholders, tags and choices', (tag) => {
    const messages = catalog(tag);
    // In en.json's order, so a translator reads the catalogs side by side.
    expect(Object.keys(messages)).toEqual(Object.keys(english));
    for (const [key, message] of Object.entries(english)) {
      expect({ key, shape: shape(messages[key], tag) }).toEqual({ key, shape: shape(message, 'en') });
    }
  });

  it.each(shippedTags.filter((tag) => tag !== 'en'))('%s falls back to English for no key', (tag) => {
    const same = Object.keys(english).filter((key) => catalog(tag)[key] === english[key]);
    expect(same.filter((key) => !(INTENTIONALLY_IDENTICAL[tag] ?? []).includes(key))).toEqual([]);
  });

  it('are all used: every layout names only keys English has, and every key is named by a layout', () => {
    const templates = new Templates();
    const used = new Set<string>();
    for (const language of templates.languages) {
      for (const name of ALL_FILES) {
        for (const key of templates.keysOf(name, language)) {
          expect({ name, key, known: key in english }).toEqual({ name, key, known: true });
          used.add(key);
        }
      }
    }
    expect(Object.keys(english).filter((key) => !used.has(key))).toEqual([]);
  });
});

describe('messages', () => {
  const catalogs = new Catalogs(undefined, 'en');
  const expiry = (language: string, ms: number) => {
    const view = expiryView(ms);
    const unit = view.expiry_days ? 'days' : view.expiry_hours ? 'hours' : 'minutes';
    return catalogs.format(language, `email.expiry.${unit}`, view, 'text');
  };

  it('say how long a link works in the unit that counts it whole, with each language’s plural', () => {
    expect(expiry('en', 3_600_000)).toBe('This link expires in 1 hour.');
    expect(expiry('en', 7_200_000)).toBe('This link expires in 2 hours.');
    expect(expiry('en', 15 * 60_000)).toBe('This link expires in 15 minutes.');
    expect(expiry('en', 90 * 60_000)).toBe('This link expires in 90 minutes.');
    expect(expiry('en', 86_400_000)).toBe('This link expires in 1 day.');
    expect(expiry('de', 3_600_000)).toBe('Dieser Link gilt 1 Stunde lang.');
    expect(expiry('de', 2 * 86_400_000)).toBe('Dieser Link gilt 2 Tage lang.');
  });

  it('escape every value and keep their own markup to the tags they may use, in HTML only', () => {
    const view = { server_name: '<img src=x onerror=alert(1)>&' };
    expect(catalogs.format('en', 'page.registration.confirm.intro', view, 'html')).toContain(
      'on <strong><bdi>&lt;img src=x onerror=alert(1)&gt;&amp;</bdi></strong> with',
    );
    expect(catalogs.format('en', 'page.registration.confirm.intro', view, 'text')).toContain('on <img src=x onerror=alert(1)>& with');
  });
});

describe('an operator’s catalog in templates_dir/messages', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('threepid-messages-');
    mkdirSync(path.join(dir, 'messages'));
  });
  afterEach(() => removeDir(dir));
  const write = (tag: string, messages: Catalog) => writeFileSync(path.join(dir, 'messages', `${tag}.json`), JSON.stringify(messages));
  const view = { server_name: 'example.org', reason_expired: true };

  it('replaces the strings it has in its language, and no other', () => {
    write('de', { 'page.failure.expired': 'Die Gültigkeit dieses Links ist abgelaufen.' });
    const templates = new Templates(dir);
    const german = templates.render('pages/failure.html', 'de', view);
    expect(german).toContain('Die Gültigkeit dieses Links ist abgelaufen.');
    expect(german).toContain('Dieser Link hat nicht funktioniert');
    expect(templates.render('pages/failure.html', 'en', view)).toContain('This link has expired.');
  });

  it('has its own words escaped in HTML as the values are', () => {
    write('en', { 'support.question': 'Questions & "answers"?' });
    const templates = new Templates(dir);
    const more = { ...view, count: 1, expiry_hours: true, support_url: 'https://example.org/help' };
    expect(templates.render('pages/failure.html', 'en', more)).toContain('>Questions &amp; &quot;answers&quot;? <a');
    expect(templates.render('email/registration.txt', 'en', more)).toContain('\nQuestions & "answers"? https://example.org/help\n');
  });

  it('is refused, naming the key, when it has a key the module does not', () => {
    write('de', { 'page.failure.expird': 'Abgelaufen.' });
    expect(() => new Templates(dir)).toThrow(/de\.json: unknown key page\.failure\.expird/);
  });

  it('is refused, naming the key, when a string uses a placeholder the shipped one lacks', () => {
    write('en', { 'sms.code': '{code} for {user_name} on {app_name}' });
    expect(() => new Templates(dir)).toThrow(/en\.json: sms\.code: uses user_name, which the shipped string does not have/);
  });

  it('is refused, naming the key, when a string is not an ICU message', () => {
    write('en', { 'sms.code': '{code is your code' });
    expect(() => new Templates(dir)).toThrow(/en\.json: sms\.code: not an ICU message/);
  });

  it('adds a language the module lacks; what it does not translate comes down its chain to English', () => {
    write('hr', {
      'page.failure.heading': 'Ova poveznica ne radi',
      'email.expiry.minutes': 'Ova poveznica istječe za {count, plural, one {# minutu} few {# minute} other {# minuta}}.',
    });
    const templates = new Templates(dir);
    expect(templates.languages).toContain('hr');
    const page = templates.renderWithLanguage('pages/failure.html', 'hr', view);
    expect(page.language).toBe('hr');
    expect(page.text).toContain('<h1>Ova poveznica ne radi</h1>');
    expect(page.text).toContain('This link has expired.');
    // Croatian has three plural forms; the engine's rules pick them.
    const minutes = (count: number) => templates.catalogs.format('hr', 'email.expiry.minutes', { count }, 'text');
    expect([1, 2, 5, 22].map(minutes)).toEqual([
      'Ova poveznica istječe za 1 minutu.',
      'Ova poveznica istječe za 2 minute.',
      'Ova poveznica istječe za 5 minuta.',
      'Ova poveznica istječe za 22 minute.',
    ]);
  });

  it('falls back pt-BR → pt → the default language → English, key by key', () => {
    write('pt', { 'page.failure.heading': 'Este link não funcionou', 'page.failure.expired': 'Este link expirou.' });
    write('pt-BR', { 'page.failure.expired': 'Este link já expirou.' });
    // Shipped catalogs for English and German alone, so that what the operator's lack comes from German.
    const shipped = path.join(dir, 'shipped');
    mkdirSync(shipped);
    for (const tag of ['en', 'de']) writeFileSync(path.join(shipped, `${tag}.json`), JSON.stringify(catalog(tag)));
    const catalogs = new Catalogs(dir, 'de', shipped);
    expect(catalogs.chain('pt-BR')).toEqual(['pt-BR', 'pt', 'de', 'en']);
    expect(catalogs.format('pt-BR', 'page.failure.expired', {}, 'text')).toBe('Este link já expirou.');
    expect(catalogs.format('pt-BR', 'page.failure.heading', {}, 'text')).toBe('Este link não funcionou');
    expect(catalogs.format('pt-BR', 'page.failure.retry', {}, 'text')).toMatch(/^Um es noch einmal/);
  });
});
