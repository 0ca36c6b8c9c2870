// Regression: in proxy mode with errors inhibited, a refused request's session
// was recorded under a key of its own, so proving its sid afterwards found
// nothing (404 M_NO_VALID_SESSION) where an allowed request's session was
// checked with the identity server (400 M_SESSION_NOT_VALIDATED): whoever
// asked for a session learnt whether the address was bound. A refused
// request's session is now recorded like an allowed one's, marked refused,
// and answers as one at every step until the identity server says it was
// validated; only then does it get its refusal, the one an allowed session
// gets at that step when the flow's rules no longer hold.
import path from 'node:path';
import { internalToken, post, removeDir, startModule, tempDir, type JsonResponse } from '../support/harness';
import { startIdentityServer } from '../support/identity-server';

const FLOWS = ['register', 'password', '3pid'] as const;
type Flow = (typeof FLOWS)[number];
const REQUEST_PATH: Record<Flow, string> = { register: 'register', password: 'account/password', '3pid': 'account/3pid' };

/** What a caller can compare: the status and the whole body, a requestToken's sid left out (it is random). */
const seen = (response: JsonResponse) => ({
  status: response.status,
  body: response.body && typeof response.body.sid === 'string' ? { ...response.body, sid: '<sid>' } : response.body,
});

it('a refused proxied request answers as an allowed one at every step until the identity server says it was validated', async () => {
  const is = await startIdentityServer({ requireTerms: false });
  const dir = tempDir();
  const hs = await startModule(
    {
      database: { path: path.join(dir, 'threepid.sqlite') },
      request_token_inhibit_3pid_errors: true,
      accounts: { require_password: false },
      identity_server: { proxy: true, trusted: [is.hostPort], allow_http: true, ip_range_whitelist: ['127.0.0.1/32'] },
    },
    {
      userAuthority: {
        userIdForAccessToken: async (token) => (token === 'mallory-token' ? '@mallory:example.org' : null),
        checkPassword: async () => false,
      },
    },
  );
  try {
    const isToken = is.issueAccessToken('@mallory:example.org');
    const idServer = { id_server: is.hostPort, id_access_token: isToken };
    const internal = (route: string, body: object) =>
      post(`${hs.internalUrl}/_threepid/v1/${route}`, body, { authorization: `Bearer ${internalToken()}` });
    let requests = 0;

    /** Requests a session for `flow`; `bound` says whether its address has an owner (refused: the flow wants the other). */
    const start = async (flow: Flow, bound: boolean) => {
      requests += 1;
      const email = `${bound ? 'owned' : 'free'}-${requests}@example.org`;
      if (bound) await hs.module.bindings.put('email', email, '@owner:example.org');
      const clientSecret = `cs${requests}`;
      const requested = await post(`${hs.url}/_matrix/client/v3/${REQUEST_PATH[flow]}/email/requestToken`, {
        client_secret: clientSecret,
        email,
        send_attempt: 1,
        ...idServer,
      });
      return { email, requested, creds: { sid: requested.body.sid as string, client_secret: clientSecret, ...idServer } };
    };
    type Started = Awaited<ReturnType<typeof start>>;

    /** Every step a client or homeserver can take with the session, unvalidated: none of them spends it. */
    const probe = async ({ requested, creds }: Started) => {
      const answers: Record<string, unknown> = { requestToken: seen(requested) };
      answers.add = seen(await post(`${hs.url}/_matrix/client/v3/account/3pid/add`, creds, { authorization: 'Bearer mallory-token' }));
      answers.validated = seen(await internal('sessions/validated', creds));
      for (const flow of FLOWS) {
        answers[`consume ${flow}`] = seen(await internal('sessions/consume', { ...creds, flow }));
        const auth = { type: 'm.login.email.identity', threepid_creds: creds };
        answers[`uia ${flow}`] = seen(await internal('uia/threepid', { auth, flow, consume: true }));
      }
      // The identity-service v1 API answers only the sessions it started.
      const v1 = new URL(`${hs.internalUrl}/_matrix/identity/api/v1/3pid/getValidated3pid`);
      v1.search = new URLSearchParams({ sid: creds.sid, client_secret: creds.client_secret }).toString();
      const response = await fetch(v1);
      answers.v1 = { status: response.status, body: await response.json() };
      return answers;
    };

    for (const flow of FLOWS) {
      const mustBeBound = flow === 'password';
      const refused = await start(flow, !mustBeBound);
      const allowed = await start(flow, mustBeBound);
      expect(refused.requested.status).toBe(200);
      const [refusedAnswers, allowedAnswers] = [await probe(refused), await probe(allowed)];
      expect({ flow, answers: refusedAnswers }).toEqual({ flow, answers: allowedAnswers });
      // Asked of the identity server, as an allowed session is.
      expect(allowedAnswers.validated).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_SESSION_NOT_VALIDATED' }) });
    }

    // Validated at the identity server (only the address's owner can do that):
    // adding a refused request's address answers as adding an allowed one's
    // that someone else bound meanwhile.
    const refused = await start('3pid', true);
    const allowed = await start('3pid', false);
    for (const { requested } of [refused, allowed]) is.validate(requested.body.sid);
    await hs.module.bindings.put('email', allowed.email, '@owner:example.org');
    const add = (creds: object) => post(`${hs.url}/_matrix/client/v3/account/3pid/add`, creds, { authorization: 'Bearer mallory-token' });
    const [addRefused, addAllowed] = [await add(refused.creds), await add(allowed.creds)];
    expect(seen(addRefused)).toEqual(seen(addAllowed));
    expect(seen(addRefused)).toEqual({ status: 400, body: { errcode: 'M_THREEPID_IN_USE', error: expect.any(String) } });

    // And a refused request's session proves nothing, even validated: each
    // flow gets the refusal its request was spared.
    for (const flow of FLOWS) {
      const mustBeBound = flow === 'password';
      const session = await start(flow, !mustBeBound);
      is.validate(session.requested.body.sid);
      const errcode = mustBeBound ? 'M_THREEPID_NOT_FOUND' : 'M_THREEPID_IN_USE';
      for (const route of ['sessions/validated', 'sessions/consume']) {
        const answer = await internal(route, { ...session.creds, flow });
        expect({ flow, route, ...seen(answer) }).toEqual({ flow, route, status: 400, body: { errcode, error: expect.any(String) } });
      }
    }
    expect(await hs.module.bindings.get('email', refused.email)).toMatchObject({ userId: '@owner:example.org' });
  } finally {
    await hs.close();
    await is.close();
    removeDir(dir);
  }
});
