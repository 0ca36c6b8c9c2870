/**
 * A real browser (Debian's Chromium) against the sidecar behind nginx run
 * with the README's configuration: a page on another origin calls
 * requestToken and submit_url (each after a CORS preflight), the emailed
 * link is opened and confirmed, and the browser lands on the client's
 * next_link; a wrong and an expired link show the failure page.
 * Screenshots of each page are kept in test-output/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { keepScreenshot, launchChromium } from '../support/browser';
import { FakeClock, removeDir, tempDir } from '../support/harness';
import { startSidecarBehindNginx, type SidecarBehindNginx } from '../support/sidecar-arrangement';
import { startSmsGateway, type SmsGateway } from '../support/sms-gateway';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { startWebOrigin, type WebOrigin } from '../support/web-client';

const LIFETIME_MS = 60 * 60_000; // email.validation_token_lifetime's default

jest.setTimeout(60_000);

describe('the link pages and submit_url in Chromium, from a page on another origin, through nginx', () => {
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let dir: string;
  let clock: FakeClock;
  let env: SidecarBehindNginx;
  let web: WebOrigin;
  let browser: Browser;
  let client: Page;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
    dir = tempDir('threepid-browser-links-');
    clock = new FakeClock(Date.now());
    env = await startSidecarBehindNginx(dir, smtp, gateway, { clock });
    web = await startWebOrigin();
    browser = await launchChromium();
    client = await browser.newPage();
    await client.goto(web.url);
  }, 900_000); // the first run may install nginx and chromium

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await env?.close();
    await gateway?.close();
    await smtp?.close();
    if (dir) removeDir(dir);
  });

  /**
   * The page POSTs JSON with fetch, as a web client does, so the browser
   * sends a preflight first. Without the CORS headers, fetch fails (the
   * browser never hands the answer to the page): `blocked`.
   */
  function postFromPage(url: string, body: object): Promise<{ status: number; body: any } | { blocked: string }> {
    return client.evaluate(
      async ({ url, body }) => {
        const show = (globalThis as any).show as (text: string, kind: string) => void;
        const what = `POST ${new URL(url).pathname}`;
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
          const answer = await res.json();
          show(`${what} → ${res.status} ${JSON.stringify(answer)}`, res.ok ? 'ok' : 'refused');
          return { status: res.status, body: answer };
        } catch (err) {
          show(`${what} → blocked: ${String(err)}`, 'failed');
          return { blocked: String(err) };
        }
      },
      { url, body },
    );
  }

  const nextLink = async (to: string): Promise<URL> => linkIn(await smtp.next(to));

  /** Opens the emailed link in a new tab of the same browser and presses Confirm. */
  async function openAndConfirm(link: URL, screenshot?: string): Promise<Page> {
    const tab = await browser.newPage();
    const opened = await tab.goto(link.toString());
    expect(opened!.status()).toBe(200);
    await tab.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
    if (screenshot) await keepScreenshot(tab, screenshot);
    await tab.getByRole('button', { name: 'Confirm' }).click();
    return tab;
  }

  /** The nginx log lines of one request, e.g. `OPTIONS /path`. */
  const logged = (request: string) =>
    env.nginx
      .accessLog()
      .split('\n')
      .filter((line) => line.startsWith(`"${request} `));

  it('requestToken from the other origin (after a preflight), the emailed link confirmed, then the 302 to next_link', async () => {
    const nextLinkUrl = `${web.url}/?returned=email`;
    const requested = await postFromPage(`${env.baseUrl}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'browser_secret_1',
      email: 'browser@example.org',
      send_attempt: 1,
      next_link: nextLinkUrl,
    });
    expect(requested).toMatchObject({ status: 200 });
    if (!('status' in requested)) throw new Error('unreachable');
    expect(requested.body.submit_url).toBe(`${env.baseUrl}/_threepid/client/v1/email/submit_token`);
    // The browser asked first; nginx passed the preflight to the sidecar, which allowed it.
    const preflights = logged('OPTIONS /_matrix/client/v3/register/email/requestToken');
    expect(preflights).toEqual([expect.stringMatching(new RegExp(` 200 ${env.sidecarAddress}$`))]);

    const link = await nextLink('browser@example.org');
    expect(link.origin).toBe(env.baseUrl);
    const tab = await openAndConfirm(link, 'link-confirm-page');
    // Confirm POSTs the token; the 302 takes the browser to the client's next_link, with the sid.
    await tab.waitForURL((url) => url.origin === web.url && url.searchParams.get('sid') === requested.body.sid);
    expect(new URL(tab.url()).searchParams.get('returned')).toBe('email');
    await expect(tab.locator('#returned').textContent()).resolves.toContain(`session ${requested.body.sid} is validated`);
    await keepScreenshot(tab, 'web-client-after-next-link');
    await tab.close();
    expect(logged('POST /_threepid/client/v1/email/validate')).toEqual([expect.stringMatching(/" 302 /)]);

  });

  it('requestToken for a phone number and the texted code at submit_url, both from the other origin', async () => {
    const requested = await postFromPage(`${env.baseUrl}/_matrix/client/v3/register/msisdn/requestToken`, {
      client_secret: 'browser_secret_2',
      country: 'FR',
      phone_number: '06 12 34 56 78',
      send_attempt: 1,
    });
    if (!('status' in requested)) throw new Error(`blocked: ${requested.blocked}`);
    expect(requested.status).toBe(200);
    expect(requested.body).toMatchObject({ msisdn: '33612345678', submit_url: `${env.baseUrl}/_threepid/client/v1/msisdn/submit_token` });
    await gateway.waitFor(1);
    const code = gateway.codeFor('+33612345678');

    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await postFromPage(requested.body.submit_url, { sid: requested.body.sid, client_secret: 'browser_secret_2', token: wrongCode });
    expect(wrong).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_TOKEN_INCORRECT' }) });
    const submitted = await postFromPage(requested.body.submit_url, { sid: requested.body.sid, client_secret: 'browser_secret_2', token: code });
    expect(submitted).toEqual({ status: 200, body: { success: true } });
    expect(logged('OPTIONS /_threepid/client/v1/msisdn/submit_token').length).toBeGreaterThan(0);
    await keepScreenshot(client, 'web-client-request-token-and-submit-url');
  });

  it('shows the confirmation page, then the success page, for a link without next_link', async () => {
    const requested = await postFromPage(`${env.baseUrl}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'browser_secret_3',
      email: 'plain@example.org',
      send_attempt: 1,
    });
    expect(requested).toMatchObject({ status: 200 });
    const tab = await openAndConfirm(await nextLink('plain@example.org'));
    await tab.getByRole('heading', { name: 'Email address confirmed' }).waitFor();
    expect(new URL(tab.url()).origin).toBe(env.baseUrl);
    await keepScreenshot(tab, 'link-success-page');
    await tab.close();
  });

  it('shows the failure page for a link with a wrong token', async () => {
    const requested = await postFromPage(`${env.baseUrl}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'browser_secret_4',
      email: 'wrong@example.org',
      send_attempt: 1,
    });
    expect(requested).toMatchObject({ status: 200 });
    const link = await nextLink('wrong@example.org');
    const token = link.searchParams.get('token')!;
    link.searchParams.set('token', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`);
    const tab = await openAndConfirm(link);
    await tab.getByRole('heading', { name: 'This link did not work' }).waitFor();
    await keepScreenshot(tab, 'link-failure-wrong-token');
    expect(logged('POST /_threepid/client/v1/email/validate').some((line) => line.includes('" 400 '))).toBe(true);
    await tab.close();
  });

  it('shows the failure page for an expired link', async () => {
    const requested = await postFromPage(`${env.baseUrl}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'browser_secret_5',
      email: 'late@example.org',
      send_attempt: 1,
    });
    expect(requested).toMatchObject({ status: 200 });
    const link = await nextLink('late@example.org');
    clock.advance(LIFETIME_MS + 60_000);
    // An expired link shows no Confirm button: the page says so at once.
    const tab = await browser.newPage();
    const opened = await tab.goto(link.toString());
    expect(opened!.status()).toBe(400);
    await tab.getByRole('heading', { name: 'This link did not work' }).waitFor();
    await expect(tab.getByText('This link has expired.').count()).resolves.toBe(1);
    await expect(tab.getByRole('button').count()).resolves.toBe(0);
    await keepScreenshot(tab, 'link-failure-expired');
    await tab.close();
  });
});
