import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EMAIL_TEMPLATE_FILES } from '../../../src/delivery/email-sender';
import { parseConfig } from '../../../src/config';
import { SMS_APP_NAME_MAX_LENGTH } from '../../../src/config/sms';
import { GSM7_BASIC, isGsm7, segmentUse } from '../../../src/delivery/gsm7';
import { SMS_TEMPLATE_FILES, SmsSender, type SmsMessage } from '../../../src/delivery/sms-senders';
import { DEFAULT_TEMPLATES_DIR, Templates } from '../../../src/delivery/templates';
import { PAGE_TEMPLATE_FILES } from '../../../src/http/link-page';
import { TEMPLATE_FILES } from '../../../src/module';
import { removeDir, tempDir } from '../../support/harness';

const ALL_FILES = [...EMAIL_TEMPLATE_FILES, ...SMS_TEMPLATE_FILES, ...PAGE_TEMPLATE_FILES];
/** Every language the module ships a catalog for. */
const shippedLanguages = readdirSync(path.join(DEFAULT_TEMPLATES_DIR, 'messages'))
  .filter((name) => name.endsWith('.json') && name !== 'languages.json')
  .map((name) => name.replace(/\.json$/, ''))
  .sort();
/** The direction the engine's locale data gives a language's script: the list of languages must say the same. */
const writingDirection = (tag: string) => {
  const locale = new Intl.Locale(tag) as Intl.Locale & { getTextInfo?: () => { direction: string }; textInfo?: { direction: string } };
  return (locale.getTextInfo?.() ?? locale.textInfo)?.direction;
};
/** A language the module has no catalog for (Esperanto). */
const UNSHIPPED = 'eo';

/** The text SmsSender hands its transport, for a message in `language`. */
async function textMessage(templates: Templates, language: string, settings: { appName: string; publicBaseurl: string; webotpLine?: boolean }) {
  const sent: SmsMessage[] = [];
  const config = {
    serverName: 'example.org',
    publicBaseurl: settings.publicBaseurl,
    email: { defaultLanguage: 'en' },
    sms: { appName: settings.appName, webotpLine: settings.webotpLine ?? true },
  };
  await new SmsSender(config, templates, { send: async (message) => void sent.push(message) }).send({ to: '4915112345678', code: '123456', language });
  return sent[0].text;
}

const longestAllowed = 'n'.repeat(SMS_APP_NAME_MAX_LENGTH);

const view = {
  app_name: 'Example Chat',
  server_name: 'example.org',
  link: 'https://example.org/_threepid/client/v1/email/validate?token=t&client_secret=c&sid=s',
  code: '123456',
  accent_color: '#2456c5',
  accent_text_color: '#ffffff',
  link_color: '#2456c5',
  action: '/_threepid/client/v1/email/validate',
  sid: 's',
  client_secret: 'c',
  token: 't',
  reason_expired: true,
};

describe('the shipped templates', () => {
  const templates = new Templates();

  it('are in every language there is a catalog for, one layout for all', () => {
    expect(templates.languages).toEqual(shippedLanguages);
    expect(shippedLanguages).toEqual(expect.arrayContaining(['de', 'en']));
    expect(readdirSync(DEFAULT_TEMPLATES_DIR).sort()).toEqual(['email', 'messages', 'pages', 'sms']);
  });

  it.each(shippedLanguages)('render every template in %s, with <html lang> and dir set and nothing left unrendered', (language) => {
    for (const name of ALL_FILES) {
      const rendered = templates.renderWithLanguage(name, language, view);
      expect(rendered.language).toBe(language);
      expect(rendered.text).not.toMatch(/\{\{|\}\}/);
      if (name.endsWith('.html')) expect(rendered.text).toContain(`<html lang="${language}" dir="${writingDirection(language)}">`);
    }
  });

  it('pass the checks a start makes of an operator\'s templates (a start without templates_dir relies on this test and skips them)', () => {
    expect([...TEMPLATE_FILES].sort()).toEqual([...ALL_FILES].sort());
    expect(() => new Templates().preload(TEMPLATE_FILES)).not.toThrow();
  });

  it('write the German text messages in GSM-7 alone, never longer than the English one', () => {
    for (const appName of ['Matrix', 'Example Chat', 'x'.repeat(80)]) {
      const english = templates.render('sms/code.txt', 'en', { ...view, app_name: appName }).trim();
      const german = templates.render('sms/code.txt', 'de', { ...view, app_name: appName }).trim();
      expect([...german].filter((char) => !GSM7_BASIC.has(char))).toEqual([]);
      expect([...english].filter((char) => !GSM7_BASIC.has(char))).toEqual([]);
      expect(german.length).toBeLessThanOrEqual(english.length);
    }
  });

  it('end every text with the one-time code line, public_baseurl’s host without its port; sms.webotp_line: false leaves it out', async () => {
    for (const language of templates.languages) {
      const text = await textMessage(templates, language, { appName: 'Example Chat', publicBaseurl: 'https://matrix.example.org:8448/threepid/' });
      expect(text.split('\n').at(-1)).toBe('@matrix.example.org #123456');
      // Outside GSM-7 a segment holds 70 characters: a full text that would take two with the line goes in its short form.
      const full = templates.render('sms/code.txt', language, { ...view, app_name: 'Example Chat' }).trim();
      const { used, of } = segmentUse(`${full}\n\n@matrix.example.org #123456`);
      const sent = used <= of ? full : templates.render('sms/code_short.txt', language, { ...view, app_name: 'Example Chat' }).trim();
      expect(text).toBe(`${sent}\n\n@matrix.example.org #123456`);
      const without = await textMessage(templates, language, { appName: 'Example Chat', publicBaseurl: 'https://matrix.example.org/', webotpLine: false });
      expect(without).not.toContain('@');
      expect(without).toBe(templates.render('sms/code.txt', language, { ...view, app_name: 'Example Chat' }).trim());
    }
  });

  describe('the longest text the module can send fits one segment, in every language', () => {
    const longestName = 'W'.repeat(SMS_APP_NAME_MAX_LENGTH);
    const names = [
      ['the longest sms.app_name allowed, in GSM-7', longestName],
      ['the longest sms.app_name allowed, outside GSM-7 (UCS-2)', 'Чат'.padEnd(SMS_APP_NAME_MAX_LENGTH, 'ж')],
      ['a far longer email.app_name the texts fall back to', 'Example Chat of the Example University Hospital'.repeat(4)],
    ];
    const host = 'verification.matrix.chat-example.co.uk'.padStart(40, 'x');
    /** The longest host a URL may carry: 253 characters, labels of at most 63. */
    const longestHost = ['a', 'b', 'c'].map((letter) => letter.repeat(63)).join('.') + '.' + 'd'.repeat(61);
    it.each(templates.languages.flatMap((language) => names.map(([what, name]) => [language, what, name])))(
      '%s, %s, with the code line of a 40-character host, and of the longest host there can be',
      async (language, _what, appName) => {
        expect([host.length, longestHost.length, new URL(`https://${longestHost}/`).hostname]).toEqual([40, 253, longestHost]);
        for (const [publicHost, webotpLine] of [[host, true], [host, false], [longestHost, true]] as const) {
          const text = await textMessage(templates, language, { appName, publicBaseurl: `https://${publicHost}/`, webotpLine });
          if (webotpLine && publicHost === host) expect(text.endsWith(`@${host} #123456`)).toBe(true);
          expect(text).toContain('123456');
          const { used, of } = segmentUse(text);
          expect({ language, appName, publicHost, webotpLine, fits: used <= of, used, of }).toEqual({ language, appName, publicHost, webotpLine, fits: true, used, of });
        }
      },
    );

    it.each(templates.languages)('%s: when even the short form takes two segments with the line, sends the short form alone', async (language) => {
      const text = await textMessage(templates, language, { appName: longestName, publicBaseurl: `https://${longestHost}/` });
      expect(text).toBe(templates.render('sms/code_short.txt', language, { ...view, app_name: longestName }).trim());
    });

    it.each(templates.languages.filter((language) => isGsm7(templates.render('sms/code.txt', language, { ...view, app_name: longestName }))))(
      '%s, written in GSM-7, keeps its full text (app name and all) with the longest name and host',
      async (language) => {
        const text = await textMessage(templates, language, { appName: longestName, publicBaseurl: `https://${host}/` });
        expect(text).toBe(`${templates.render('sms/code.txt', language, { ...view, app_name: longestName }).trim()}\n\n@${host} #123456`);
      },
    );

    it('sends the short form, the code alone, when the full text would take two segments', async () => {
      const appName = 'Example Chat of the Example University Hospital';
      const text = await textMessage(templates, 'en', { appName, publicBaseurl: `https://${host}/` });
      expect(text).toBe(`Your code: 123456\n\n@${host} #123456`);
    });

    it('keeps the full text outside GSM-7 too, app name and warning, when it fits one UCS-2 segment with the line', async () => {
      const text = await textMessage(templates, 'ja', { appName: 'Example Chat', publicBaseurl: 'https://matrix.example.org/' });
      expect(text).toBe('Example Chatの認証コード：123456。他人に教えないでください。\n\n@matrix.example.org #123456');
    });
  });

  it('write the Italian text message in the catalog’s formal address (Lei), in one GSM-7 segment', () => {
    const text = templates.render('sms/code.txt', 'it', { ...view, app_name: longestAllowed }).trim();
    expect(text).toBe(`123456 è il codice di verifica di ${longestAllowed}. Non lo condivida con nessuno.`);
    expect(isGsm7(text)).toBe(true);
    expect(segmentUse(`${text}\n\n@${'x'.repeat(40)} #123456`).used).toBeLessThanOrEqual(160);
  });

  it('isolate the app name in the HTML email’s brand, and with FSI/PDI in right-to-left plain-text emails alone, never in a text message', async () => {
    for (const language of templates.languages) {
      expect(templates.render('email/registration.html', language, view)).toContain('<bdi>Example Chat</bdi></div>');
      const subject = templates.render('email/registration.subject.txt', language, view);
      const body = templates.render('email/registration.txt', language, view);
      const rtl = writingDirection(language) === 'rtl';
      expect({ language, subject: subject.includes('\u2068Example Chat\u2069'), body: body.includes('\u2068Example Chat\u2069') }).toEqual({ language, subject: rtl, body: rtl });
      const text = await textMessage(templates, language, { appName: 'Example Chat', publicBaseurl: 'https://matrix.example.org/' });
      expect(text).not.toMatch(/[\u2068\u2069]/);
    }
    expect(templates.render('email/registration.subject.txt', 'ar', view).trim()).toMatch(/^\[\u2068Example Chat\u2069\] /);
  });

  it('refuse an sms.app_name longer than the texts take', () => {
    expect(parseConfig({ sms: { app_name: longestAllowed } }).sms.appName).toBe(longestAllowed);
    expect(() => parseConfig({ sms: { app_name: `${longestAllowed}x` } })).toThrow(/sms\.app_name/);
  });

  it('count segments as the GSM and UCS-2 rules do', () => {
    expect(segmentUse('a'.repeat(160))).toEqual({ used: 160, of: 160 });
    expect(segmentUse('€[]')).toEqual({ used: 6, of: 160 });
    expect(segmentUse('Straße ✓')).toEqual({ used: 8, of: 70 });
  });

  it('refuses a default language there are no templates for', () => {
    expect(() => new Templates(undefined, UNSHIPPED)).toThrow(/default language eo has no catalog/);
  });
});

describe('templates_dir overrides', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('threepid-templates-');
  });
  afterEach(() => removeDir(dir));

  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };

  it('take a file in a language folder for that language only', () => {
    write('de/email/registration.subject.txt', 'Willkommen bei {{app_name}}');
    const templates = new Templates(dir);
    expect(templates.render('email/registration.subject.txt', 'de', view)).toBe('Willkommen bei Example Chat');
    expect(templates.render('email/registration.subject.txt', 'en', view).trim()).toBe('[Example Chat] Confirm your email address');
  });

  it('take a flat file (as before there were languages) as the default language’s', () => {
    write('email/registration.subject.txt', 'Welcome to {{app_name}}');
    const english = new Templates(dir, 'en');
    expect(english.render('email/registration.subject.txt', 'en', view)).toBe('Welcome to Example Chat');
    expect(english.render('email/registration.subject.txt', 'de', view).trim()).toBe('[Example Chat] Bestätigen Sie Ihre E-Mail-Adresse');
    const german = new Templates(dir, 'de');
    expect(german.render('email/registration.subject.txt', 'de', view)).toBe('Welcome to Example Chat');
    expect(german.render('email/registration.subject.txt', 'en', view).trim()).toBe('[Example Chat] Confirm your email address');
  });

  it('add a language by adding a folder with pages; what it lacks comes from English, and says so', () => {
    write(`${UNSHIPPED}/sms/code.txt`, '{{code}} estas via kodo de {{app_name}}.');
    write(`${UNSHIPPED}/pages/registration_confirm.html`, '<html lang="{{lang}}">Konfirmu</html>');
    const templates = new Templates(dir);
    expect(templates.languages).toEqual([...shippedLanguages, UNSHIPPED].sort());
    expect(templates.renderWithLanguage('sms/code.txt', UNSHIPPED, view)).toEqual({ text: '123456 estas via kodo de Example Chat.', language: UNSHIPPED });
    const page = templates.renderWithLanguage('pages/failure.html', UNSHIPPED, view);
    expect(page.language).toBe('en');
    expect(page.text).toContain('<html lang="en" dir="ltr">');
    expect(page.text).toContain('This link has expired.');
  });

  it('take a partial from the operator too, for every page that uses it: in every language when it names its words by key', () => {
    write('pages/_brand.html', '<div class="brand">Our own header: {{#t}}support.question{{/t}}</div>');
    write('de/pages/_footer.html', '<p>Nur auf Deutsch</p>');
    const templates = new Templates(dir);
    expect(templates.render('pages/registration_confirm.html', 'en', view)).toContain('Our own header: Need help?');
    expect(templates.render('pages/registration_confirm.html', 'de', view)).toContain('Our own header: Brauchen Sie Hilfe?');
    expect(templates.render('pages/registration_confirm.html', 'de', view)).toContain('Nur auf Deutsch');
    expect(templates.render('pages/registration_confirm.html', 'en', view)).not.toContain('Nur auf Deutsch');
  });

  it('take a flat partial with no words of its own (a stylesheet, a logo) in every language, one with words in the default language alone', () => {
    write('pages/_head.html', '<meta charset="utf-8"><style>/* OPERATOR CSS */ body { background: #000 }</style>');
    write('pages/_brand.html', '<div class="brand"><img src="/logo.png" alt="{{app_name}}"> &nbsp; {{app_name}}</div>');
    write('email/_brand.html', '<img src="https://example.org/mail-logo.png" alt="{{app_name}}" height="40"><!-- our logo -->');
    write('pages/_footer.html', '<footer>Contact us at the front desk</footer>');
    const templates = new Templates(dir, 'fr');
    for (const language of ['fr', 'de', 'en', 'ar', 'ja']) {
      const page = templates.render('pages/registration_confirm.html', language, view);
      expect({ language, css: page.includes('OPERATOR CSS'), brand: page.includes('src="/logo.png"') }).toEqual({ language, css: true, brand: true });
      expect(page.includes('Contact us at the front desk')).toBe(language === 'fr');
      expect(templates.render('email/registration.html', language, view)).toContain('mail-logo.png');
    }
  });

  it('fail at preload, not at the first page, when a partial is missing', () => {
    write('fr/pages/failure.html', '<html lang="{{lang}}">{{> _missing}}</html>');
    expect(() => new Templates(dir).preload(['pages/failure.html'])).toThrow(/template pages\/_missing.html not found for language fr/);
  });

  it('take no folder for a language unless Intl knows its name as a language and it holds pages', () => {
    for (const folder of ['img', 'css', 'old', 'bak', 'tmp', 'doc']) write(`${folder}/pages/failure.html`, '<html>{{app_name}}</html>');
    write('img/logo.png', 'x');
    write(`${UNSHIPPED}/email/registration.subject.txt`, 'Konfirmu vian retpoŝtadreson');
    write('hr/pages/failure.html', '<html lang="{{lang}}">Poveznica je istekla.</html>');
    const templates = new Templates(dir);
    expect(templates.languages).toEqual([...shippedLanguages, 'hr'].sort());
    expect(templates.renderWithLanguage('pages/failure.html', 'hr', view)).toEqual({ text: '<html lang="hr">Poveznica je istekla.</html>', language: 'hr' });
  });

  it('ignore folders whose names are not language tags', () => {
    write('not a language/sms/code.txt', 'x');
    write('email/registration.txt', 'flat');
    write('sms/code.txt', 'flat, in a folder whose name looks like a language tag');
    expect(new Templates(dir).languages).toEqual(shippedLanguages);
  });
});
