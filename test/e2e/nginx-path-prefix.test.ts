/**
 * `public_baseurl` with a path (`http://host/matrix/`), behind a real nginx
 * running the README's configuration in two variants: one that strips the
 * prefix before the module sees the request, and one that passes it on.
 * Links, submit_url, the page's form (pressed in Chromium) and the redirect
 * to next_link must all work in both.
 */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort } from '../support/e2e-utils';
import { launchChromium } from '../support/browser';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { setupNginx, startNginx, type RunningNginx } from '../support/nginx';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

const PREFIX = '/matrix';

/** The README's configuration with every location of the module's paths under `/matrix`, passed on as they are. */
const keepPrefix = (config: string) =>
  config
    .replaceAll('location ~ ^/_matrix/', `location ~ ^${PREFIX}/_matrix/`)
    .replace('location /_threepid/client/', `location ${PREFIX}/_threepid/client/`)
    .replace('location = /_matrix/client/versions', `location = ${PREFIX}/_matrix/client/versions`);

/**
 * The same locations, each cutting `/matrix` off before passing the request
 * on: the module sees root paths, and nothing of it is routed at the root
 * (a root path goes to the homeserver, as in the README).
 */
const stripPrefix = (config: string) =>
  keepPrefix(config).replaceAll(
    'proxy_pass http://threepid_sidecar;',
    `rewrite ^${PREFIX}(/.*)$ $1 break;\n        proxy_pass http://threepid_sidecar;`,
  );

describe.each([
  ['strips', stripPrefix],
  ['keeps', keepPrefix],
])('public_baseurl with a path, behind nginx that %s the prefix', (_name, variant) => {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;
  let nginx: RunningNginx;
  let browser: Browser;
  let app: Server;
  let appUrl: string;
  let base: string;

  beforeAll(async () => {
    const nginxBinary = setupNginx();
    smtp = await startSmtpSink();
    dir = tempDir();
    const port = await freePort();
    base = `http://127.0.0.1:${port}${PREFIX}`;
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      public_baseurl: `${base}/`,
      trusted_proxies: ['127.0.0.1'],
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    });
    // The client's own page that next_link points at.
    app = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>back in the app</h1>'));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    nginx = await startNginx(nginxBinary, { sidecarUrl: hs.url, homeserverUrl: `http://127.0.0.1:${await freePort()}`, port, variant });
    browser = await launchChromium();
  }, 600_000); // the first run may install nginx and chromium

  afterAll(async () => {
    await browser?.close();
    await nginx?.close();
    await hs?.close();
    await smtp?.close();
    await new Promise((resolve) => app?.close(resolve));
    removeDir(dir);
  });

  async function requestToken(clientSecret: string, nextLink?: string) {
    const res = await post(`${base}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: clientSecret,
      email: `${clientSecret}@example.org`,
      send_attempt: 1,
      ...(nextLink ? { next_link: nextLink } : {}),
    });
    expect(res.status).toBe(200);
    const mails = await smtp.waitFor(smtp.messages.length + 1);
    return { res, link: linkIn(mails[mails.length - 1]) };
  }

  it('puts the prefix in submit_url and the emailed link, and submit_url works through nginx', async () => {
    const { res, link } = await requestToken('prefix_submit');
    expect(res.body.submit_url).toBe(`${base}/_threepid/client/v1/email/submit_token`);
    expect(link.href.startsWith(`${base}/_threepid/client/v1/email/validate?`)).toBe(true);
    const submitted = await post(res.body.submit_url, {
      sid: res.body.sid,
      client_secret: 'prefix_submit',
      token: link.searchParams.get('token'),
    });
    expect([submitted.status, submitted.body]).toEqual([200, { success: true }]);
    // nginx routed both to the sidecar (the upstream it logs is the sidecar's listener).
    const sidecar = new URL(hs.url).host;
    const log = nginx.accessLog();
    expect(log).toContain(`"POST ${PREFIX}/_matrix/client/v3/register/email/requestToken HTTP/1.1" 200 ${sidecar}`);
    expect(log).toContain(`"POST ${PREFIX}/_threepid/client/v1/email/submit_token HTTP/1.1" 200 ${sidecar}`);
  });

  it('opens the link, and the button, pressed in Chromium, posts under the prefix and confirms', async () => {
    const { link } = await requestToken('prefix_page');
    const page = await browser.newPage();
    try {
      await page.goto(link.href);
      expect(await page.getAttribute('form', 'action')).toBe(`${PREFIX}/_threepid/client/v1/email/validate`);
      await Promise.all([page.waitForURL(`${base}/_threepid/client/v1/email/validate`), page.click('button[type=submit]')]);
      expect(await page.textContent('h1')).toBe('Email address confirmed');
    } finally {
      await page.close();
    }
    const log = nginx.accessLog();
    expect(log).toContain(`"POST ${PREFIX}/_threepid/client/v1/email/validate HTTP/1.1" 200`);
  });

  it('redirects to next_link, with the sid, after the button is pressed', async () => {
    const { res, link } = await requestToken('prefix_next', `${appUrl}/done?from=email`);
    const page = await browser.newPage();
    try {
      await page.goto(link.href);
      await Promise.all([page.waitForURL(`${appUrl}/done?**`), page.click('button[type=submit]')]);
      const landed = new URL(page.url());
      expect(landed.searchParams.get('sid')).toBe(res.body.sid);
      expect(landed.searchParams.get('from')).toBe('email');
      expect(await page.textContent('h1')).toBe('back in the app');
    } finally {
      await page.close();
    }
  });
});
