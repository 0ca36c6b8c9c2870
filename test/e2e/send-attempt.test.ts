/**
 * Issue 3, section 1: `send_attempt` idempotency. The same canonical address and
 * client_secret with an attempt not above the last one seen give back the same
 * sid and send nothing; a higher attempt keeps the sid and sends a new token.
 */
import { internalToken, post } from '../support/harness';
import {
  expectNoServerErrorsOrLeaks,
  requestTokenPath,
  SPEC_FILES,
  startFixture,
  type Fixture,
} from '../support/request-token-fixture';
import { linkIn, type ReceivedMail } from '../support/smtp';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const REGISTER = requestTokenPath('register');

let fx: Fixture;

beforeEach(async () => {
  fx = await startFixture();
});

afterEach(async () => {
  expectNoServerErrorsOrLeaks(fx);
  await fx.close();
});

async function requestToken(body: Record<string, unknown>, path = REGISTER): Promise<string> {
  const res = await fx.post(path, body);
  expect(res.status).toBe(200);
  expectResponseMatchesSpec(...SPEC_FILES.register, 'post', 200, res.body);
  return res.body.sid;
}

/** Waits for message number `n` (1-based) and returns it. */
async function mail(n: number): Promise<ReceivedMail> {
  return (await fx.smtp.waitFor(n))[n - 1];
}

/** The outbox holds `count` messages, all of them sent, and the sink received exactly those. */
async function expectMessagesInAll(count: number): Promise<void> {
  expect(await fx.count('threepid_outbox')).toBe(count);
  await fx.drained();
  expect(fx.smtp.messages).toHaveLength(count);
}

const submit = (sid: string, clientSecret: string, token: string) =>
  fx.post('/_threepid/client/v1/email/submit_token', { sid, client_secret: clientSecret, token });

const validated = (sid: string, clientSecret: string) =>
  post(`${fx.hs.internalUrl}/_threepid/v1/sessions/validated`, { sid, client_secret: clientSecret }, {
    authorization: `Bearer ${internalToken()}`,
  });

it('the same address and secret with the same or a lower send_attempt give back the same sid and send no new email', async () => {
  const sid = await requestToken({ client_secret: 'same_1', email: 'alice@example.org', send_attempt: 3 });
  await mail(1);

  expect(await requestToken({ client_secret: 'same_1', email: 'alice@example.org', send_attempt: 3 })).toBe(sid);
  expect(await requestToken({ client_secret: 'same_1', email: 'alice@example.org', send_attempt: 2 })).toBe(sid);
  expect(await requestToken({ client_secret: 'same_1', email: 'alice@example.org', send_attempt: 0 })).toBe(sid);

  await expectMessagesInAll(1);
  expect(await fx.count('threepid_sessions')).toBe(1);
});

it('the address is compared in its canonical form, and r0 and v3 share sessions', async () => {
  const sid = await requestToken({ client_secret: 'canon_1', email: 'Alice@Example.ORG', send_attempt: 1 });
  expect(await requestToken({ client_secret: 'canon_1', email: ' alice@example.org ', send_attempt: 1 })).toBe(sid);
  expect(
    await requestToken({ client_secret: 'canon_1', email: 'ALICE@EXAMPLE.ORG', send_attempt: 1 }, requestTokenPath('register', 'r0')),
  ).toBe(sid);
  await expectMessagesInAll(1);
  expect((await mail(1)).to).toEqual(['alice@example.org']);
});

it('a higher send_attempt keeps the sid and sends a new token; the old token then no longer validates', async () => {
  const sid = await requestToken({ client_secret: 'retry_1', email: 'bob@example.org', send_attempt: 1 });
  const firstToken = linkIn(await mail(1)).searchParams.get('token')!;

  expect(await requestToken({ client_secret: 'retry_1', email: 'bob@example.org', send_attempt: 2 })).toBe(sid);
  const second = await mail(2);
  expect(second.to).toEqual(['bob@example.org']);
  const secondLink = linkIn(second);
  expect(secondLink.searchParams.get('sid')).toBe(sid);
  const secondToken = secondLink.searchParams.get('token')!;
  expect(secondToken).not.toBe(firstToken);
  expect(await fx.count('threepid_sessions')).toBe(1);

  const old = await submit(sid, 'retry_1', firstToken);
  expect(old.status).toBe(400);
  expectMatrixError(old.body, 'M_TOKEN_INCORRECT');

  const ok = await submit(sid, 'retry_1', secondToken);
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ success: true });
  expect((await validated(sid, 'retry_1')).body).toEqual({
    medium: 'email',
    address: 'bob@example.org',
    validated_at: expect.any(Number),
  });
  await expectMessagesInAll(2);
});

it('after a higher send_attempt, repeating an older one sends nothing more', async () => {
  const sid = await requestToken({ client_secret: 'seq_1', email: 'carol@example.org', send_attempt: 1 });
  await mail(1);
  expect(await requestToken({ client_secret: 'seq_1', email: 'carol@example.org', send_attempt: 5 })).toBe(sid);
  await mail(2);
  for (const attempt of [1, 4, 5]) {
    expect(await requestToken({ client_secret: 'seq_1', email: 'carol@example.org', send_attempt: attempt })).toBe(sid);
  }
  await expectMessagesInAll(2);
});

it('another client_secret for the same address starts a new session with its own email', async () => {
  const first = await requestToken({ client_secret: 'secret_a', email: 'dave@example.org', send_attempt: 1 });
  const second = await requestToken({ client_secret: 'secret_b', email: 'dave@example.org', send_attempt: 1 });
  expect(second).not.toBe(first);
  const links = [linkIn(await mail(1)), linkIn(await mail(2))].map((link) => link.searchParams.get('sid'));
  expect(links.sort()).toEqual([first, second].sort());

  // Each session answers only to its own secret.
  const crossed = await submit(first, 'secret_b', linkIn(fx.smtp.messages[0]).searchParams.get('token')!);
  expect(crossed.status).toBe(400);
  expect(await fx.count('threepid_sessions')).toBe(2);
});

it('the same client_secret for another address starts a new session', async () => {
  const first = await requestToken({ client_secret: 'shared_1', email: 'erin@example.org', send_attempt: 1 });
  const second = await requestToken({ client_secret: 'shared_1', email: 'frank@example.org', send_attempt: 1 });
  expect(second).not.toBe(first);
  await expectMessagesInAll(2);
  expect(fx.smtp.messages.map((m) => m.to[0]).sort()).toEqual(['erin@example.org', 'frank@example.org']);
});

it('once a session is validated, a new request with its secret starts a new session and sends a new email', async () => {
  const sid = await requestToken({ client_secret: 'done_1', email: 'grace@example.org', send_attempt: 1 });
  const link = linkIn(await mail(1));
  expect((await submit(sid, 'done_1', link.searchParams.get('token')!)).status).toBe(200);

  // Same send_attempt as before: a validated session is never handed out again.
  const next = await requestToken({ client_secret: 'done_1', email: 'grace@example.org', send_attempt: 1 });
  expect(next).not.toBe(sid);
  const nextMail = await mail(2);
  expect(linkIn(nextMail).searchParams.get('sid')).toBe(next);

  // The validated session still proves the address; the new one does not yet.
  expect((await validated(sid, 'done_1')).status).toBe(200);
  const pending = await validated(next, 'done_1');
  expect(pending.status).toBe(400);
  expectMatrixError(pending.body, 'M_SESSION_NOT_VALIDATED');

  // And the new session's own retries keep its sid.
  expect(await requestToken({ client_secret: 'done_1', email: 'grace@example.org', send_attempt: 1 })).toBe(next);
  await expectMessagesInAll(2);
});

it('each new session gets a distinct sid of at least 22 opaque-identifier characters', async () => {
  const sids = new Set<string>();
  for (let i = 0; i < 20; i += 1) {
    const sid = await requestToken({ client_secret: `many_${i}`, email: 'heidi@example.org', send_attempt: 1 });
    expect(sid).toMatch(/^[0-9a-zA-Z.=_-]{22,255}$/);
    sids.add(sid);
  }
  expect(sids.size).toBe(20);
  await expectMessagesInAll(20);
});
