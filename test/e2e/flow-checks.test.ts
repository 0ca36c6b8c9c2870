/**
 * Issue 3, section 1: the checks each flow makes before sending anything —
 * the 3PID directory (in use / not found, or silent decoys when errors are
 * inhibited), next_link, and id_server / id_access_token being ignored.
 */
import type { Flow } from '../../src/store/sessions';
import { queryDb } from '../support/e2e-utils';
import { internalToken, post } from '../support/harness';
import { startIdentityServer } from '../support/identity-server';
import {
  expectNoServerErrorsOrLeaks,
  FLOWS,
  requestTokenPath,
  SPEC_FILES,
  startFixture,
  VERSIONS,
  type Fixture,
  type RawResponse,
} from '../support/request-token-fixture';
import { linkIn } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const BOUND = 'bound@example.org';
const SID_SHAPE = /^[0-9a-zA-Z.=_-]{1,255}$/;

function expect400(flow: Flow, res: RawResponse, errcode: string): void {
  expect({ status: res.status, errcode: res.body?.errcode }).toEqual({ status: 400, errcode });
  expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', 400, res.body);
  expectMatrixError(res.body, errcode);
}

function expect200(flow: Flow, res: RawResponse): void {
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: expect.objectContaining({ sid: expect.any(String) }) });
  expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', 200, res.body);
}

/** Runs `refused` and checks that it wrote no session and no message. */
async function expectNothingStored(fx: Fixture, refused: () => Promise<void>): Promise<void> {
  const sessions = await fx.count('threepid_sessions');
  const messages = await fx.count('threepid_outbox');
  await refused();
  expect(await fx.count('threepid_sessions')).toBe(sessions);
  expect(await fx.count('threepid_outbox')).toBe(messages);
}

/** The outbox holds `count` messages, all of them sent, and the sink received exactly those. */
async function expectMessagesInAll(fx: Fixture, count: number): Promise<void> {
  expect(await fx.count('threepid_outbox')).toBe(count);
  await fx.drained();
  expect(fx.smtp.messages).toHaveLength(count);
}

const submitToken = (fx: Fixture, sid: string, clientSecret: string, token: string) =>
  fx.post('/_threepid/client/v1/email/submit_token', { sid, client_secret: clientSecret, token });

const validatedStatus = async (fx: Fixture, sid: string, clientSecret: string) =>
  (
    await post(`${fx.hs.internalUrl}/_threepid/v1/sessions/validated`, { sid, client_secret: clientSecret }, {
      authorization: `Bearer ${internalToken()}`,
    })
  ).body;

describe('the 3PID directory decides who may ask', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
    await fx.hs.module.bindings.put('email', BOUND, '@u:example.org');
    // Bound as typed in another case: the directory holds the canonical form.
    await fx.hs.module.bindings.put('email', 'Mixed.Case@Example.ORG', '@v:example.org');
  });

  afterAll(async () => {
    if (fx) expectNoServerErrorsOrLeaks(fx);
    await fx?.close();
  });

  it.each(VERSIONS.flatMap((v) => (['register', '3pid'] as Flow[]).map((flow) => [v, flow] as const)))(
    '%s %s: a bound address is 400 M_THREEPID_IN_USE, whatever its case, and no email is sent',
    async (version, flow) => {
      await expectNothingStored(fx, async () => {
        for (const email of [BOUND, 'BOUND@Example.org', ' bound@EXAMPLE.ORG ', 'mixed.case@example.org']) {
          expect400(flow, await fx.post(requestTokenPath(flow, version), { client_secret: 's1', email, send_attempt: 1 }), 'M_THREEPID_IN_USE');
        }
      });
    },
  );

  it.each(VERSIONS)('%s password: an unbound address is 400 M_THREEPID_NOT_FOUND, and no email is sent', async (version) => {
    await expectNothingStored(fx, async () => {
      for (const email of ['nobody@example.org', 'bound@example.com']) {
        const res = await fx.post(requestTokenPath('password', version), { client_secret: 's2', email, send_attempt: 1 });
        expect400('password', res, 'M_THREEPID_NOT_FOUND');
      }
    });
  });

  it('password with a bound address (typed in any case), and register / 3pid with a free one, send their email', async () => {
    const before = await fx.count('threepid_outbox');
    expect200('password', await fx.post(requestTokenPath('password'), { client_secret: 'p1', email: 'Bound@Example.ORG', send_attempt: 1 }));
    expect200('register', await fx.post(requestTokenPath('register'), { client_secret: 'r1', email: 'free1@example.org', send_attempt: 1 }));
    expect200('3pid', await fx.post(requestTokenPath('3pid'), { client_secret: 't1', email: 'free2@example.org', send_attempt: 1 }));
    const mails = await fx.smtp.waitFor(before + 3);
    expect(mails.slice(before).map((mail) => mail.to[0]).sort()).toEqual([BOUND, 'free1@example.org', 'free2@example.org']);
  });

  it('a binding removed frees the address for registration and ends password resets for it', async () => {
    await fx.hs.module.bindings.put('email', 'moving@example.org', '@w:example.org');
    expect400('register', await fx.post(requestTokenPath('register'), { client_secret: 'm1', email: 'moving@example.org', send_attempt: 1 }), 'M_THREEPID_IN_USE');
    await fx.hs.module.bindings.delete('email', 'moving@example.org');
    expect200('register', await fx.post(requestTokenPath('register'), { client_secret: 'm1', email: 'moving@example.org', send_attempt: 1 }));
    expect400('password', await fx.post(requestTokenPath('password'), { client_secret: 'm2', email: 'moving@example.org', send_attempt: 1 }), 'M_THREEPID_NOT_FOUND');
  });
});

describe('with request_token_inhibit_3pid_errors: true', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture({ request_token_inhibit_3pid_errors: true });
    await fx.hs.module.bindings.put('email', BOUND, '@u:example.org');
  });

  afterAll(async () => {
    if (fx) expectNoServerErrorsOrLeaks(fx);
    await fx?.close();
  });

  /** Requests the directory refuses: register and 3pid for a bound address, password for an unbound one. */
  const REFUSED: Array<[Flow, string]> = [
    ['register', BOUND],
    ['3pid', BOUND],
    ['password', 'nobody@example.org'],
  ];

  it('a real request still answers 200 and sends its email', async () => {
    const res = await fx.post(requestTokenPath('register'), { client_secret: 'real_1', email: 'real@example.org', send_attempt: 1 });
    expect200('register', res);
    expect((await fx.smtp.nthTo('real@example.org', 1)).to).toEqual(['real@example.org']);
  });

  it.each(REFUSED)(
    '%s with %s answers 200 with a sid shaped like a real one, sends nothing, and the sid cannot be validated',
    async (flow, email) => {
      const real = await fx.post(requestTokenPath(flow), {
        client_secret: `real_${flow}`,
        email: flow === 'password' ? BOUND : `real-${flow}@example.org`,
        send_attempt: 1,
      });
      expect200(flow, real);
      await fx.drained();
      const mailsBefore = fx.smtp.messages.length;
      // A decoy writes a message as a real request does, in a row marked never to be sent.
      const messages = async () =>
        Number((await queryDb<{ n: number | string }>(fx.dbPath, "SELECT COUNT(*) AS n FROM threepid_outbox WHERE status <> 'decoy'"))[0].n);
      const messagesBefore = await messages();

      for (const version of VERSIONS) {
        const decoy = await fx.post(requestTokenPath(flow, version), { client_secret: `decoy_${flow}`, email, send_attempt: 1 });
        expect200(flow, decoy);
        // Same keys, same submit_url, a sid of the same alphabet and length.
        expect(Object.keys(decoy.body).sort()).toEqual(Object.keys(real.body).sort());
        expect(decoy.body.submit_url).toBe(real.body.submit_url);
        expect(decoy.body.sid).toMatch(SID_SHAPE);
        expect(decoy.body.sid).toHaveLength(real.body.sid.length);
        expect(decoy.body.sid).not.toBe(real.body.sid);
      }
      const decoy = await fx.post(requestTokenPath(flow), { client_secret: `decoy_${flow}`, email, send_attempt: 1 });
      // Retried like a real session: same sid back (r0 and v3 share it, as they do for real ones).
      const retried = await fx.post(requestTokenPath(flow), { client_secret: `decoy_${flow}`, email, send_attempt: 1 });
      expect(retried.body.sid).toBe(decoy.body.sid);
      const bumped = await fx.post(requestTokenPath(flow), { client_secret: `decoy_${flow}`, email, send_attempt: 2 });
      expect(bumped.body.sid).toBe(decoy.body.sid);

      // Nothing was enqueued nor sent.
      expect(await messages()).toBe(messagesBefore);
      await fx.drained();
      expect(fx.smtp.messages).toHaveLength(mailsBefore);

      // Nobody holds a token for it: guesses fail, and the session never becomes validated.
      for (const token of ['', 'x', 'AAAAAAAAAAAAAAAAAAAAAA', decoy.body.sid, `decoy_${flow}`]) {
        const res = await submitToken(fx, decoy.body.sid, `decoy_${flow}`, token);
        expect(res.status).toBe(400);
        expect(['M_TOKEN_INCORRECT', 'M_INVALID_PARAM']).toContain(res.body.errcode);
      }
      const state = await validatedStatus(fx, decoy.body.sid, `decoy_${flow}`);
      expectMatrixError(state, 'M_SESSION_NOT_VALIDATED');
    },
  );

  it('a decoy for an address answers like a real request for it would, down to the submit_url', async () => {
    // The same client cannot tell a bound address from a free one on register.
    const free = await fx.post(requestTokenPath('register'), { client_secret: 'cmp_1', email: 'free@example.org', send_attempt: 1 });
    const bound = await fx.post(requestTokenPath('register'), { client_secret: 'cmp_1', email: BOUND, send_attempt: 1 });
    expect(bound.status).toBe(free.status);
    expect(Object.keys(bound.body)).toEqual(Object.keys(free.body));
    expect(bound.body.submit_url).toBe(free.body.submit_url);
    expect(bound.contentType).toBe(free.contentType);
  });
});

describe('next_link', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
  });

  afterAll(async () => {
    if (fx) expectNoServerErrorsOrLeaks(fx);
    await fx?.close();
  });

  it.each(FLOWS)('%s: anything but an http(s) URL is 400 M_INVALID_PARAM, and nothing is stored', async (flow) => {
    if (flow === 'password') await fx.hs.module.bindings.put('email', 'pw@example.org', '@pw:example.org');
    const email = flow === 'password' ? 'pw@example.org' : `${flow}@example.org`;
    await expectNothingStored(fx, async () => {
      for (const nextLink of [
        'javascript:alert(1)',
        'JavaScript:alert(document.cookie)',
        'ftp://x',
        'data:text/html,<script>alert(1)</script>',
        'file:///etc/passwd',
        'not a url',
        '//evil.example.org/relative',
        '/relative/path',
        '',
      ]) {
        const res = await fx.post(requestTokenPath(flow), { client_secret: 'nl_1', email, send_attempt: 1, next_link: nextLink });
        try {
          expect400(flow, res, 'M_INVALID_PARAM');
        } catch (err) {
          throw new Error(`next_link ${JSON.stringify(nextLink)}: ${(err as Error).message}`);
        }
      }
      expect400(flow, await fx.post(requestTokenPath(flow), { client_secret: 'nl_1', email, send_attempt: 1, next_link: 42 }), 'M_INVALID_PARAM');
    });
  });

  it('with no whitelist, any http or https host is accepted', async () => {
    for (const [i, nextLink] of ['https://app.element.io/#/register', 'http://localhost:8080/done?x=1'].entries()) {
      const res = await fx.post(requestTokenPath('register'), { client_secret: `ok_${i}`, email: `ok${i}@example.org`, send_attempt: 1, next_link: nextLink });
      expect200('register', res);
    }
  });
});

describe('next_link with next_link_domain_whitelist', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture({ next_link_domain_whitelist: ['app.example.org'] });
  });

  afterAll(async () => {
    if (fx) expectNoServerErrorsOrLeaks(fx);
    await fx?.close();
  });

  it.each([
    'https://evil.example.org/',
    'https://sub.app.example.org/',
    'https://app.example.org.evil.com/',
    'https://app.example.org@evil.com/',
    'https://evil.com/?next=https://app.example.org/',
    'https://evil.com/#app.example.org',
    'javascript://app.example.org/%0aalert(1)',
  ])('%s, not on the listed host or not http(s), is 400 M_INVALID_PARAM, and nothing is stored', async (nextLink) => {
    await expectNothingStored(fx, async () => {
      const res = await fx.post(requestTokenPath('register'), { client_secret: 'wl_1', email: 'wl@example.org', send_attempt: 1, next_link: nextLink });
      expect400('register', res, 'M_INVALID_PARAM');
    });
  });

  it('the listed host is accepted (any scheme among http/https, port, path or case), and confirming redirects there', async () => {
    const accepted = ['https://app.example.org/welcome?from=email', 'http://app.example.org:8443/x', 'https://APP.Example.ORG/y'];
    for (const [i, nextLink] of accepted.entries()) {
      const res = await fx.post(requestTokenPath('register'), { client_secret: `wl_ok_${i}`, email: `ok${i}@example.org`, send_attempt: 1, next_link: nextLink });
      expect200('register', res);
    }
    const link = linkIn((await fx.smtp.waitFor(accepted.length)).find((mail) => mail.to[0] === 'ok0@example.org')!);
    const confirmed = await fetch(new URL(link.pathname, fx.hs.url), { method: 'POST', body: link.searchParams, redirect: 'manual' });
    expect(confirmed.status).toBe(302);
    const location = new URL(confirmed.headers.get('location')!);
    expect(location.host).toBe('app.example.org');
    expect(location.pathname).toBe('/welcome');
  });
});

describe('next_link with an empty whitelist', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture({ next_link_domain_whitelist: [] });
  });

  afterAll(async () => {
    await fx?.close();
  });

  it('refuses every next_link but still serves requests without one', async () => {
    const refused = await fx.post(requestTokenPath('register'), { client_secret: 'e1', email: 'e@example.org', send_attempt: 1, next_link: 'https://app.example.org/' });
    expect400('register', refused, 'M_INVALID_PARAM');
    expect200('register', await fx.post(requestTokenPath('register'), { client_secret: 'e1', email: 'e@example.org', send_attempt: 1 }));
  });
});

describe('id_server and id_access_token', () => {
  let fx: Fixture;
  let identityServer: Awaited<ReturnType<typeof startIdentityServer>>;

  beforeAll(async () => {
    identityServer = await startIdentityServer({ requireTerms: false });
    fx = await startFixture();
    await fx.hs.module.bindings.put('email', 'pw@example.org', '@pw:example.org');
  });

  afterAll(async () => {
    if (fx) expectNoServerErrorsOrLeaks(fx);
    await fx?.close();
    await identityServer?.close();
  });

  it.each(FLOWS)('%s: are accepted and ignored; the homeserver sends its own email and never calls the identity server', async (flow) => {
    const email = flow === 'password' ? 'pw@example.org' : `${flow}-ids@example.org`;
    const bodies = [
      { id_server: identityServer.hostPort, id_access_token: identityServer.issueAccessToken() },
      { id_server: identityServer.hostPort },
      { id_server: 'id.example.com', id_access_token: 'not-a-real-token' },
    ];
    for (const [i, extra] of bodies.entries()) {
      const before = await fx.count('threepid_outbox');
      const res = await fx.post(requestTokenPath(flow), { client_secret: `ids_${flow}_${i}`, email, send_attempt: 1, ...extra });
      expect200(flow, res);
      expect(res.body.submit_url).toBe(`${fx.hs.url}/_threepid/client/v1/email/submit_token`);
      const mail = (await fx.smtp.waitFor(before + 1))[before];
      expect(mail.to).toEqual([email]);
      const link = linkIn(mail);
      expect(link.origin).toBe(fx.hs.url);
      expect(link.searchParams.get('sid')).toBe(res.body.sid);

      // The emailed token validates the session at the homeserver's own submit_url.
      const ok = await submitToken(fx, res.body.sid, `ids_${flow}_${i}`, link.searchParams.get('token')!);
      expect(ok.body).toEqual({ success: true });
    }
    expect(identityServer.requests).toEqual([]);
    expect(identityServer.sent).toEqual([]);
    await expectMessagesInAll(fx, await fx.count('threepid_outbox'));
  });
});
