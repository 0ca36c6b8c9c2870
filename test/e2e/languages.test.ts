import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { languageInfo } from '../../src/delivery/language-list';
import { Templates } from '../../src/delivery/templates';
import { FakeClock, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { queryDb } from '../support/e2e-utils';
import { requestTokenPath } from '../support/request-token-fixture';
import { linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from '../support/sms-gateway';

const PATHS = {
  register: requestTokenPath('register'),
  password: requestTokenPath('password'),
  add: requestTokenPath('3pid'),
  sms: requestTokenPath('register').replace('/email/', '/msisdn/'),
};
const VALIDATE = '/_threepid/client/v1/email/validate';

/** An attribute's value as the browser reads it (Mustache writes `=` and `/` as character references). */
const decodeAttribute = (value: string) =>
  value.replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16))).replaceAll('&amp;', '&');

describe('languages and branding of emails, text messages and pages', () => {
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let dir: string;
  let hs: Running | undefined;
  let counter = 0;

  const start = async (extra: Pick<RawConfig, 'email' | 'branding'> = {}) => {
    hs = await startModule(
      {
        database: { path: path.join(dir, 'threepid.sqlite') },
        server_name: 'example.org',
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, app_name: 'TestHS', ...(extra.email ?? {}) },
        sms: twilioSmsConfig(gateway.url),
        branding: extra.branding,
      } as RawConfig & { database: { path: string } },
      { clock: new FakeClock(Date.now()) },
    );
    await hs.module.bindings.put('email', 'owner@example.org', '@owner:example.org');
    return hs;
  };

  beforeEach(async () => {
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
    dir = tempDir();
  });
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await smtp.close();
    await gateway.close();
    removeDir(dir);
  });

  /** A requestToken with an Accept-Language (or none); answers the email it caused. */
  async function request(route: string, acceptLanguage?: string, email = `user${++counter}@example.org`, attempt = 1) {
    const headers: Record<string, string> = acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage };
    const res = await post(hs!.url + route, { client_secret: `secret${email.length}x${counter}`, email, send_attempt: attempt }, headers);
    expect(res.status).toBe(200);
    const mails = await smtp.waitFor(smtp.messages.length + 1);
    return { sid: res.body.sid as string, email, mail: mails[mails.length - 1] };
  }

  const openLink = (mail: ReceivedMail, acceptLanguage = 'en') =>
    fetch(linkIn(mail).href, { headers: { 'accept-language': acceptLanguage } });
  const pressButton = (mail: ReceivedMail, acceptLanguage = 'en') =>
    fetch(hs!.url + VALIDATE, {
      method: 'POST',
      body: linkIn(mail).searchParams,
      headers: { 'accept-language': acceptLanguage },
      redirect: 'manual',
    });

  it('writes the email in the language the requestToken asked for, and the link page speaks it whatever the browser says', async () => {
    await start();
    const { email, mail } = await request(PATHS.register, 'de-DE,de;q=0.9,en;q=0.8');
    expect(mail.subject).toBe('[TestHS] Bestätigen Sie Ihre E-Mail-Adresse');
    expect(mail.raw).toMatch(/^Content-Language: de\r$/m);
    expect(mail.text).toContain('jemand möchte mit dieser E-Mail-Adresse ein Konto auf example.org registrieren.');
    expect(mail.html).toContain('<html lang="de" dir="ltr">');
    // The sid a client sees is the stored id under a keyed permutation: the row is found by its address.
    expect(await queryDb(path.join(dir, 'threepid.sqlite'), 'SELECT language FROM threepid_sessions WHERE address = ?', email)).toEqual([
      { language: 'de' },
    ]);

    // Opened on a computer whose browser prefers English: the page follows the email.
    const page = await openLink(mail, 'en-US,en;q=0.9');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-language')).toBe('de');
    const html = await page.text();
    expect(html).toContain('<html lang="de" dir="ltr">');
    expect(html).toContain('<button type="submit">E-Mail-Adresse bestätigen</button>');

    const confirmed = await pressButton(mail, 'en');
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('<h1>E-Mail-Adresse bestätigt</h1>');
  });

  it('uses email.default_language without a header or without a match, and English by default', async () => {
    await start();
    expect((await request(PATHS.register)).mail.subject).toBe('[TestHS] Confirm your email address');
    expect((await request(PATHS.register)).mail.raw).toMatch(/^Content-Language: en\r$/m);
    await hs!.close();
    hs = undefined;
    await start({ email: { default_language: 'de' } });
    expect((await request(PATHS.register)).mail.subject).toBe('[TestHS] Bestätigen Sie Ihre E-Mail-Adresse');
    expect((await request(PATHS.register, 'sw, th;q=0.5')).mail.subject).toBe('[TestHS] Bestätigen Sie Ihre E-Mail-Adresse');
    expect((await request(PATHS.register, 'en-GB')).mail.subject).toBe('[TestHS] Confirm your email address');
  });

  it('shows each flow its own page: the password reset page says the button allows a password change', async () => {
    await start();
    const texts = async (route: string, email?: string) => {
      const { mail } = await request(route, 'en', email);
      const confirm = await (await openLink(mail)).text();
      const success = await (await pressButton(mail)).text();
      return { confirm, success };
    };
    const register = await texts(PATHS.register);
    const reset = await texts(PATHS.password, 'owner@example.org');
    const add = await texts(PATHS.add);

    expect(register.confirm).toContain('<h1>Confirm your email address</h1>');
    expect(reset.confirm).toContain('<h1>Reset your password</h1>');
    expect(reset.confirm).toContain('allows the password to be changed in the app that asked');
    expect(reset.confirm).toContain('<button type="submit">Allow the password change</button>');
    expect(add.confirm).toContain('<h1>Add this email address to your account</h1>');
    expect(reset.success).toContain('You can now choose a new password in the app that asked for the reset.');
    expect(register.success).toContain('to finish creating your account');
    expect(add.success).toContain('to finish adding it to your account');

    const { mail } = await request(PATHS.password, 'de', 'owner@example.org');
    const german = await (await openLink(mail)).text();
    expect(german).toContain('erlauben, das Passwort in der App zu ändern, die danach gefragt hat');
  });

  it('answers a broken link in the browser’s language, and an expired one in the session’s', async () => {
    await start();
    const broken = await fetch(`${hs!.url}${VALIDATE}?sid=abc`, { headers: { 'accept-language': 'de-CH' } });
    expect(broken.status).toBe(400);
    const brokenHtml = await broken.text();
    expect(brokenHtml).toContain('<h1>Dieser Link hat nicht funktioniert</h1>');
    expect(brokenHtml).toContain('Dieser Link ist unvollständig.');

    const { mail } = await request(PATHS.register, 'de');
    const params = linkIn(mail).searchParams;
    params.set('token', 'wrong');
    const wrong = await fetch(hs!.url + VALIDATE, { method: 'POST', body: params, headers: { 'accept-language': 'en' } });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('Dieser Link gilt nicht mehr.');
  });

  it('writes a new token’s email in the language of the request that asked for it', async () => {
    await start();
    const email = 'again@example.org';
    const res1 = await post(hs!.url + PATHS.register, { client_secret: 'again', email, send_attempt: 1 }, { 'accept-language': 'en' });
    await smtp.waitFor(1);
    const res2 = await post(hs!.url + PATHS.register, { client_secret: 'again', email, send_attempt: 2 }, { 'accept-language': 'de' });
    expect(res2.body.sid).toBe(res1.body.sid);
    const [, second] = await smtp.waitFor(2);
    expect(second.subject).toBe('[TestHS] Bestätigen Sie Ihre E-Mail-Adresse');
    expect(await (await openLink(second, 'en')).text()).toContain('<html lang="de" dir="ltr">');
  });

  it('offers a language menu on the link page: plain links to the same page, whose pick wins for that page and the form it posts', async () => {
    await start();
    const { mail } = await request(PATHS.register, 'en');
    const link = linkIn(mail);
    const english = await (await openLink(mail, 'en')).text();
    const menu = [...english.matchAll(/<a href="([^"]*)" hreflang="([^"]*)" lang="[^"]*" dir="[^"]*"( aria-current="page")?>([^<]*)<\/a>/g)];
    // Every shipped language, by its own name; the page's own marked.
    expect(menu.map(([, , tag, current, name]) => [tag, name, Boolean(current)])).toEqual(
      new Templates().languages.map((tag) => [tag, languageInfo(tag).name, tag === 'en']),
    );
    expect(menu.map(([, , tag]) => tag)).toEqual(expect.arrayContaining(['de', 'en']));
    for (const [, href, tag] of menu) {
      // A query alone: same origin, same path, nothing sent anywhere else; the link's own parameters kept.
      const target = new URL(decodeAttribute(href), link);
      expect(href.startsWith('?')).toBe(true);
      expect(target.origin + target.pathname).toBe(link.origin + link.pathname);
      for (const key of ['sid', 'client_secret', 'token']) expect(target.searchParams.get(key)).toBe(link.searchParams.get(key));
      expect(target.searchParams.get('lang')).toBe(tag);
    }

    const germanUrl = new URL(link);
    germanUrl.searchParams.set('lang', 'de');
    const german = await fetch(germanUrl, { headers: { 'accept-language': 'en' } });
    expect(german.headers.get('content-language')).toBe('de');
    const germanHtml = await german.text();
    expect(germanHtml).toContain('<h1>Bestätigen Sie Ihre E-Mail-Adresse</h1>');
    expect(germanHtml).toContain('<input type="hidden" name="lang" value="de">');
    // The session keeps its language: the same link without ?lang= is English again.
    expect(await (await openLink(mail, 'de')).text()).toContain('<html lang="en" dir="ltr">');
    // An unknown ?lang= is ignored: the session's language answers, the menu marks it, and the form carries no lang at all.
    for (const unknown of ['xx-bogus', 'DE', 'de"><script>alert(1)</script>', '../../etc/passwd']) {
      germanUrl.searchParams.set('lang', unknown);
      const ignored = await fetch(germanUrl, { headers: { 'accept-language': 'de' } });
      expect(ignored.headers.get('content-language')).toBe('en');
      const ignoredHtml = await ignored.text();
      expect(ignoredHtml).toContain('<html lang="en" dir="ltr">');
      expect(ignoredHtml).not.toContain('name="lang"');
      expect(ignoredHtml).not.toContain(unknown);
      expect(ignoredHtml).not.toContain(encodeURIComponent(unknown));
      const current = [...ignoredHtml.matchAll(/hreflang="([^"]*)"[^>]* aria-current="page"/g)].map(([, tag]) => tag);
      expect(current).toEqual(['en']);
    }

    const form = link.searchParams;
    form.set('lang', 'de');
    const success = await fetch(hs!.url + VALIDATE, { method: 'POST', body: form, headers: { 'accept-language': 'en' }, redirect: 'manual' });
    expect(success.status).toBe(200);
    expect(await success.text()).toContain('<h1>E-Mail-Adresse bestätigt</h1>');
  });

  it('texts the code in the language the requestToken asked for', async () => {
    await start();
    const res = await post(
      hs!.url + PATHS.sms,
      { client_secret: 'sms_de', country: 'DE', phone_number: '01701234567', send_attempt: 1 },
      { 'accept-language': 'de-DE' },
    );
    expect(res.status).toBe(200);
    const [sms] = await gateway.waitFor(1);
    // Last, the one-time code line: public_baseurl's host, without its port.
    const [, code, lineCode] = /^(\d{6}) ist Ihr Bestätigungscode für TestHS\. Bitte nicht weitergeben\.\n\n@127\.0\.0\.1 #(\d{6})$/.exec(sms.text) ?? [];
    expect(lineCode).toBe(code);
    expect(code).toMatch(/^\d{6}$/);
  });

  describe('branding', () => {
    const csp = async (branding: RawConfig['branding']) => {
      await start({ branding });
      const { mail } = await request(PATHS.register, 'en');
      const page = await openLink(mail);
      const result = { csp: page.headers.get('content-security-policy'), html: await page.text(), mail };
      await hs!.close();
      hs = undefined;
      return result;
    };

    it('allows images from exactly the logo’s source, and from nowhere without a logo', async () => {
      const none = await csp({});
      expect(none.csp).toBe("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
      expect(none.html).not.toContain('<img');

      const own = await csp({ logo_url: '/static/logo.svg' });
      expect(own.csp).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'");
      expect(own.html).toContain('<img src="&#x2F;static&#x2F;logo.svg" alt="TestHS">');

      const cdn = await csp({ logo_url: 'https://cdn.example.org:8443/brand/logo.png?v=2' });
      expect(cdn.csp).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src https://cdn.example.org:8443; frame-ancestors 'none'");
    });

    it('shows the logo (at an absolute URL), the accent colour and the support link in HTML emails and on pages', async () => {
      const { html, mail } = await csp({ logo_url: '/static/logo.svg', accent_color: '#ffcc00', support_url: 'https://help.example.org/' });
      expect(mail.html).toMatch(/<img src="http:&#x2F;&#x2F;127\.0\.0\.1:\d+&#x2F;static&#x2F;logo\.svg" alt="TestHS"/);
      // A light accent gets dark text on it.
      expect(mail.html).toContain('background:#ffcc00;color:#17191c');
      expect(mail.html).toContain('href="https:&#x2F;&#x2F;help.example.org&#x2F;"');
      expect(mail.text).toContain('Need help? https://help.example.org/');
      expect(html).toContain('background: #ffcc00; color: #17191c;');
      expect(html).toContain('<a href="https:&#x2F;&#x2F;help.example.org&#x2F;">Contact support</a>');
    });
  });
});
