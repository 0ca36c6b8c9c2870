/**
 * A web client on its own origin, in Debian's Chromium, using matrix-js-sdk
 * bundled for the browser with esbuild, against the README's arrangement:
 * nginx run with examples/nginx/threepid.conf exactly (no CORS added there),
 * the sidecar, and the reference homeserver's sidecar variant
 * (examples/host-homeserver/sidecar-host.ts). Each server sends CORS
 * itself. It registers by email, resets the password by email, adds an
 * address, and starts syncing; each test with a user of its own, so that any
 * runs alone. With KEEP_SCREENSHOTS=1, screenshots go to
 * test-output/screenshots/.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { keepScreenshot, launchChromium } from '../support/browser';
import { removeDir, tempDir } from '../support/harness';
import { NGINX_TEMPLATE } from '../support/nginx';
import { startSidecarBehindNginx, type SidecarBehindNginx } from '../support/sidecar-arrangement';
import { startSmsGateway, type SmsGateway } from '../support/sms-gateway';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';
import { bundleMatrixJsSdk, startWebOrigin, type WebOrigin } from '../support/web-client';

jest.setTimeout(60_000);

/** What a step run in the page answers: its value, or the Matrix error the SDK threw. */
type Outcome = { ok: true; value: any } | { ok: false; httpStatus?: number; errcode?: string; data?: any; message: string };

describe('a web client on another origin (matrix-js-sdk in Chromium) through the README nginx arrangement', () => {
  let smtp: SmtpSink;
  let gateway: SmsGateway;
  let dir: string;
  let env: SidecarBehindNginx;
  let web: WebOrigin;
  let browser: Browser;
  let page: Page;
  let users = 0;
  /** A person with no account yet, and an address nobody else uses. */
  const newcomer = () => {
    users += 1;
    const name = `webalice${users}`;
    return { name, id: `@${name}:example.org`, email: `${name}@example.org`, password: 'first password' };
  };

  beforeAll(async () => {
    smtp = await startSmtpSink();
    gateway = await startSmsGateway();
    dir = tempDir('threepid-browser-client-');
    const bundle = await bundleMatrixJsSdk(dir);
    env = await startSidecarBehindNginx(dir, smtp, gateway);
    web = await startWebOrigin(bundle);
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(web.url);
    await page.waitForFunction(() => typeof (globalThis as any).matrixcs?.createClient === 'function');
  }, 900_000); // the first run may install nginx and chromium

  // Each test starts with a client that is not logged in.
  beforeEach(async () => {
    await page.evaluate((baseUrl) => {
      const g = globalThis as any;
      g.client = g.matrixcs.createClient({ baseUrl });
    }, env.baseUrl);
  });

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await env?.close();
    await gateway?.close();
    await smtp?.close();
    if (dir) removeDir(dir);
  });

  /**
   * Runs `step` in the page with the SDK client as `client`, shows `label`
   * and its outcome on the page, and answers the outcome.
   */
  async function inPage(label: string, step: string, args: Record<string, unknown> = {}): Promise<Outcome> {
    return page.evaluate(
      async ({ label, step, args }) => {
        const g = globalThis as any;
        // The step's source is the test's own text, run as the page's code (the page is ours).
        const run = new Function('client', 'args', 'matrixcs', `return (async () => { ${step} })();`);
        try {
          const value = await run(g.client, args, g.matrixcs);
          g.show(`${label} → ${JSON.stringify(value ?? {})}`, 'ok');
          return { ok: true as const, value };
        } catch (err: any) {
          // A Matrix error is an answer (often the one expected: a UIA 401); anything else is a failure.
          const flows = err.data?.flows?.map((flow: { stages: string[] }) => flow.stages.join(' + ')).join(' | ');
          const answer = err.errcode ? `${err.errcode}: ${err.data?.error}` : flows ? `user-interactive auth, flows: ${flows}` : err.message;
          g.show(`${label} → ${err.httpStatus ?? 'no answer'} ${answer}`, err.httpStatus ? 'refused' : 'failed');
          return { ok: false as const, httpStatus: err.httpStatus, errcode: err.errcode, data: err.data, message: String(err.message) };
        }
      },
      { label, step, args },
    );
  }

  /** The link in the `n`th email to `to`. */
  const linkTo = async (to: string, n = 1): Promise<URL> => linkIn(await smtp.nthTo(to, n));

  /** The preflights nginx logged for `route` include a 200 from `upstream` (the server that serves the route). */
  const expectPreflight = (route: string, upstream: string) =>
    expect(env.nginx.accessLog().split('\n').filter((line) => line.startsWith(`"OPTIONS ${route}`))).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(` 200 ${upstream}$`))]),
    );

  /** The emailed link, opened in a new tab of the same browser, its button (each flow words it its own way) pressed. */
  async function confirmInBrowser(link: URL, button: string): Promise<void> {
    expect(link.origin).toBe(env.baseUrl);
    const tab = await browser.newPage();
    await tab.goto(link.toString());
    await tab.getByRole('button', { name: button }).click();
    await tab.getByRole('heading', { name: 'Email address confirmed' }).waitFor();
    await tab.close();
  }

  const value = (outcome: Outcome) => {
    if (!outcome.ok) throw new Error(`step failed in the page: ${outcome.httpStatus} ${outcome.errcode} ${outcome.message}`);
    return outcome.value;
  };

  /**
   * `user` registered through the email flow in the page; answers what each
   * step answered (the registration test checks them).
   */
  async function registered(user: ReturnType<typeof newcomer>): Promise<{ challenge: Outcome & { ok: false }; requested: any; done: any }> {
    const challenge = await inPage('POST /register (no auth)', 'return client.registerRequest({ username: args.name, password: args.password });', user);
    if (challenge.ok) throw new Error('registration asked for no authentication');
    const requested = value(
      await inPage(
        'POST /register/email/requestToken',
        `globalThis.registerSecret = client.generateClientSecret();
         return client.requestRegisterEmailToken(args.email, globalThis.registerSecret, 1);`,
        user,
      ),
    );
    await confirmInBrowser(await linkTo(user.email), 'Confirm my email address');
    const done = value(
      await inPage(
        'POST /register (m.login.email.identity)',
        `const auth = { type: 'm.login.email.identity', threepid_creds: { sid: args.sid, client_secret: globalThis.registerSecret } };
         return client.register(args.name, args.password, args.session, auth);`,
        { ...user, sid: requested.sid, session: challenge.data.session },
      ),
    );
    return { challenge, requested, done };
  }

  /** Replaces the page's client with one logged in as `user`. */
  async function loggedIn(user: ReturnType<typeof newcomer>): Promise<void> {
    value(
      await inPage(
        'log in and keep the session',
        `const login = await client.loginWithPassword(args.name, args.password);
         globalThis.client = matrixcs.createClient({ baseUrl: client.baseUrl, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
         return { user_id: login.user_id };`,
        user,
      ),
    );
  }

  it('runs nginx with the README configuration, which adds no CORS headers', () => {
    expect(readFileSync(NGINX_TEMPLATE, 'utf8')).not.toMatch(/Access-Control|add_header/i);
  });

  it('registers by email: /versions, /register 401 with the flows, requestToken, the link confirmed, /register 200', async () => {
    const user = newcomer();
    const versions = value(await inPage('GET /versions', 'return client.getVersions();'));
    expect(versions.unstable_features['m.require_identity_server']).toBe(false);

    const { challenge, requested, done } = await registered(user);
    expect(challenge).toMatchObject({ ok: false, httpStatus: 401 });
    expect(challenge.data.flows).toEqual([{ stages: ['m.login.email.identity'] }, { stages: ['m.login.msisdn'] }]);
    expect(requested.submit_url).toBe(`${env.baseUrl}/_threepid/client/v1/email/submit_token`);
    expect(done).toEqual({ user_id: user.id, access_token: expect.any(String), device_id: expect.any(String), home_server: 'example.org' });
    // Both went through nginx with their preflights, each to the server that serves it.
    expectPreflight('/_matrix/client/v3/register/email/requestToken', env.sidecarAddress);
    expectPreflight('/_matrix/client/v3/register ', env.homeserverAddress);
  });

  it('resets the password by email: requestToken, the link, /account/password; then /login works with the new password only', async () => {
    const user = newcomer();
    await registered(user);
    const requested = value(
      await inPage(
        'POST /account/password/email/requestToken',
        `globalThis.resetSecret = client.generateClientSecret();
         return client.requestPasswordEmailToken(args.email, globalThis.resetSecret, 1);`,
        user,
      ),
    );
    await confirmInBrowser(await linkTo(user.email, 2), 'Allow the password change'); // after the registration's
    const changed = value(
      await inPage(
        'POST /account/password (m.login.email.identity)',
        `let session;
         try { await client.setPassword({}, args.password); } catch (err) { session = err.data.session; }
         const creds = { sid: args.sid, client_secret: globalThis.resetSecret };
         return client.setPassword({ type: 'm.login.email.identity', session, threepid_creds: creds, threepidCreds: creds }, args.password, true);`,
        { password: 'second password', sid: requested.sid },
      ),
    );
    expect(changed).toEqual({});
    const withNew = value(await inPage('POST /login (new password)', 'return client.loginWithPassword(args.name, args.password);', { ...user, password: 'second password' }));
    expect(withNew.user_id).toBe(user.id);
    const withOld = await inPage('POST /login (old password)', 'return client.loginWithPassword(args.name, args.password);', user);
    expect(withOld).toMatchObject({ ok: false, httpStatus: 403, errcode: 'M_FORBIDDEN' });
    expectPreflight('/_matrix/client/v3/account/password ', env.homeserverAddress);
  });

  it('adds an address: /account/3pid/email/requestToken, the link, /account/3pid/add with the password UIA', async () => {
    const user = newcomer();
    const work = `${user.name}.work@example.org`;
    await registered(user);
    await loggedIn(user);
    const requested = value(
      await inPage(
        'POST /account/3pid/email/requestToken',
        `globalThis.addSecret = client.generateClientSecret();
         return client.requestAdd3pidEmailToken(args.email, globalThis.addSecret, 1);`,
        { email: work },
      ),
    );
    await confirmInBrowser(await linkTo(work), 'Add this email address');
    const challenge = await inPage('POST /account/3pid/add (no auth)', 'return client.addThreePidOnly({ sid: args.sid, client_secret: globalThis.addSecret });', {
      sid: requested.sid,
    });
    expect(challenge).toMatchObject({ ok: false, httpStatus: 401 });
    if (challenge.ok) throw new Error('unreachable');
    expect(challenge.data.flows).toEqual([{ stages: ['m.login.password'] }]);
    const added = value(
      await inPage(
        'POST /account/3pid/add (m.login.password)',
        `const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: args.userId }, password: args.password, session: args.session };
         return client.addThreePidOnly({ sid: args.sid, client_secret: globalThis.addSecret, auth });`,
        { sid: requested.sid, session: challenge.data.session, userId: user.id, password: user.password },
      ),
    );
    expect(added).toEqual({});
    const listed = value(await inPage('GET /account/3pid', 'return client.getThreePids();'));
    expect(listed.threepids.map((threepid: { address: string }) => threepid.address).sort()).toEqual([work, user.email].sort());
    expectPreflight('/_matrix/client/v3/account/3pid/add', env.sidecarAddress);
  });

  it('starts the client after login: push rules, filter, capabilities and sync answer, and it reaches PREPARED', async () => {
    const user = newcomer();
    await registered(user);
    await loggedIn(user);
    const state = value(
      await inPage(
        'startClient',
        `const prepared = new Promise((resolve, reject) => {
           client.on('sync', (state) => {
             if (state === 'PREPARED') resolve(state);
             if (state === 'ERROR') reject(new Error('sync failed'));
           });
         });
         await client.startClient({ initialSyncLimit: 1 });
         const reached = await prepared;
         return { state: reached, pushRules: Boolean(client.pushRules), capabilities: await client.getCapabilities() };`,
      ),
    );
    expect(state).toMatchObject({ state: 'PREPARED', pushRules: true, capabilities: { 'm.3pid_changes': { enabled: true } } });
    await keepScreenshot(page, 'web-client-sdk-register-reset-add-sync');
    await page.evaluate(() => (globalThis as any).client.stopClient());
    expectPreflight('/_matrix/client/v3/pushrules/', env.homeserverAddress);
    expectPreflight('/_matrix/client/v3/sync', env.homeserverAddress);
  });
});
