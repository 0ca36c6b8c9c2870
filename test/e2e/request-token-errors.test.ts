/**
 * Issue 3, section 1: the email requestToken endpoints refuse bad input with a
 * Matrix error, store nothing and send nothing; never a 500, never a stack trace.
 */
import zlib from 'node:zlib';
import type { Flow } from '../../src/store/sessions';
import {
  ALL_ENDPOINTS,
  expectNoServerErrorsOrLeaks,
  FLOWS,
  requestTokenPath,
  settle,
  SPEC_FILES,
  startFixture,
  type Fixture,
  type RawResponse,
} from '../support/request-token-fixture';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

/** An address bound to a user, so that the password flow would accept it. */
const BOUND = 'owner@example.org';

let fx: Fixture;
let counter = 0;

beforeAll(async () => {
  fx = await startFixture();
  await fx.hs.module.bindings.put('email', BOUND, '@owner:example.org');
});

afterAll(async () => {
  await fx?.close();
});

/**
 * An address each flow would accept if the rest of the body were fine: the
 * bound one for password reset, a fresh one otherwise. A check that a flow
 * forgot would then show up as a 200, not be hidden by a directory refusal.
 */
function acceptableAddress(flow: Flow): string {
  counter += 1;
  return flow === 'password' ? BOUND : `fresh${counter}@example.org`;
}

function validBody(flow: Flow, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return { client_secret: `secret${counter}`, email: acceptableAddress(flow), send_attempt: 1, ...overrides };
}

/** A 400 documented for the endpoint, with this errcode. */
function expect400(flow: Flow, res: RawResponse, errcode: string): void {
  expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: expect.objectContaining({ errcode }) });
  expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', 400, res.body);
  expectMatrixError(res.body, errcode);
}

/** Runs `refused` and checks that it wrote no session and no message. */
async function expectNothingStored(refused: () => Promise<void>): Promise<void> {
  const sessions = await fx.count('threepid_sessions');
  const messages = await fx.count('threepid_outbox');
  await refused();
  expect(await fx.count('threepid_sessions')).toBe(sessions);
  expect(await fx.count('threepid_outbox')).toBe(messages);
}

/**
 * Proves no email left for the refused requests: a valid request made after
 * them gets its message, and no other message arrives with or after it.
 */
async function expectOnlyNextEmailArrives(): Promise<void> {
  // First let every message enqueued so far (by earlier, valid requests) arrive.
  const before = (await fx.smtp.waitFor(await fx.count('threepid_outbox'))).length;
  const email = `witness${++counter}@example.org`;
  const ok = await fx.post(requestTokenPath('register'), { client_secret: `w${counter}`, email, send_attempt: 1 });
  expect(ok.status).toBe(200);
  await fx.smtp.waitFor(before + 1);
  await settle();
  expect(fx.smtp.messages.slice(before).map((mail) => mail.to)).toEqual([[email]]);
}

describe('a body that is not JSON', () => {
  it.each(ALL_ENDPOINTS)('%s %s: answers 400 M_NOT_JSON and stores nothing', async (_version, flow, path) => {
    await expectNothingStored(async () => {
      for (const body of ['{not json', '{"client_secret": "abc",}', 'client_secret=abc&send_attempt=1', "{'a': 1}", 'NaN']) {
        expect400(flow, await fx.post(path, body), 'M_NOT_JSON');
      }
    });
  });

  it('answers 400 M_NOT_JSON whatever the Content-Type says', async () => {
    const path = requestTokenPath('register');
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8']) {
      expect400('register', await fx.post(path, 'client_secret=abc', { 'content-type': contentType }), 'M_NOT_JSON');
    }
  });

  it('answers 400 M_NOT_JSON for a body that does not decompress as its Content-Encoding says', async () => {
    const path = requestTokenPath('register');
    for (const encoding of ['gzip', 'deflate', 'br']) {
      expect400('register', await fx.post(path, 'this is not compressed', { 'content-encoding': encoding }), 'M_NOT_JSON');
    }
  });

  it('accepts a valid JSON body that arrives gzip-compressed', async () => {
    const path = requestTokenPath('register');
    const res = await fx.post(path, zlib.gzipSync(JSON.stringify(validBody('register'))), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES.register, 'post', 200, res.body);
  });
});

describe('JSON that is not an object', () => {
  it.each(ALL_ENDPOINTS)('%s %s: answers 400 M_BAD_JSON and stores nothing', async (_version, flow, path) => {
    await expectNothingStored(async () => {
      for (const body of ['[]', JSON.stringify([validBody(flow)]), '42', '"a string"', 'true', 'null']) {
        expect400(flow, await fx.post(path, body), 'M_BAD_JSON');
      }
    });
  });
});

describe('missing fields', () => {
  it.each(ALL_ENDPOINTS)('%s %s: an empty object names all three missing fields', async (_version, flow, path) => {
    const res = await fx.post(path, {});
    expect400(flow, res, 'M_MISSING_PARAM');
    for (const field of ['client_secret', 'email', 'send_attempt']) expect(res.body.error).toContain(field);
  });

  it.each(FLOWS)('%s: each missing field is named, and only the missing ones', async (flow) => {
    const fields = ['client_secret', 'email', 'send_attempt'];
    await expectNothingStored(async () => {
      for (const missing of fields) {
        const body = validBody(flow);
        delete body[missing];
        const res = await fx.post(requestTokenPath(flow), body);
        expect400(flow, res, 'M_MISSING_PARAM');
        expect(res.body.error).toContain(missing);
        for (const present of fields.filter((field) => field !== missing)) expect(res.body.error).not.toContain(present);
      }
      const two = await fx.post(requestTokenPath(flow), { email: acceptableAddress(flow) });
      expect400(flow, two, 'M_MISSING_PARAM');
      expect(two.body.error).toContain('client_secret');
      expect(two.body.error).toContain('send_attempt');
    });
  });
});

describe('client_secret', () => {
  const BAD_SECRETS: Array<[string, unknown]> = [
    ['empty', ''],
    ['256 characters', 'a'.repeat(256)],
    ['with a space', 'has space'],
    ['with a slash', 'with/slash'],
    ['with a non-ASCII letter', 'sécret'],
    ['with a newline', 'abc\ndef'],
    ['a number', 12345],
    ['an object', { secret: 'abc' }],
  ];

  it.each(ALL_ENDPOINTS)(
    '%s %s: a client_secret outside ^[0-9a-zA-Z.=_-]{1,255}$ is 400 M_INVALID_PARAM, with nothing stored',
    async (_version, flow, path) => {
      await expectNothingStored(async () => {
        for (const [what, secret] of BAD_SECRETS) {
          const res = await fx.post(path, validBody(flow, { client_secret: secret }));
          try {
            expect400(flow, res, 'M_INVALID_PARAM');
          } catch (err) {
            throw new Error(`client_secret ${what}: ${(err as Error).message}`);
          }
        }
      });
    },
  );

  it.each(ALL_ENDPOINTS)('%s %s: a 255-character secret using every allowed character is accepted', async (_v, flow, path) => {
    const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.=_-';
    const unique = String(++counter);
    const secret = alphabet.repeat(4).slice(0, 255 - unique.length) + unique;
    expect(secret).toMatch(/^[0-9a-zA-Z.=_-]{255}$/);
    const res = await fx.post(path, validBody(flow, { client_secret: secret }));
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', 200, res.body);
  });
});

describe('send_attempt', () => {
  const BAD_ATTEMPTS: unknown[] = ['1', 1.5, -1, true, [1], { n: 1 }, '', 'one'];

  it.each(ALL_ENDPOINTS)(
    '%s %s: a send_attempt that is not a non-negative integer is 400 M_INVALID_PARAM, and no email is sent',
    async (_version, flow, path) => {
      await expectNothingStored(async () => {
        for (const attempt of BAD_ATTEMPTS) {
          const res = await fx.post(path, validBody(flow, { send_attempt: attempt }));
          try {
            expect400(flow, res, 'M_INVALID_PARAM');
          } catch (err) {
            throw new Error(`send_attempt ${JSON.stringify(attempt)}: ${(err as Error).message}`);
          }
        }
      });
      await expectOnlyNextEmailArrives();
    },
  );

  it('refuses the string "1" even for an address and secret that already have a session', async () => {
    const body = validBody('register');
    const first = await fx.post(requestTokenPath('register'), body);
    expect(first.status).toBe(200);
    await expectNothingStored(async () => {
      expect400('register', await fx.post(requestTokenPath('register'), { ...body, send_attempt: '2' }), 'M_INVALID_PARAM');
    });
  });
});

describe('email', () => {
  const BAD_EMAILS: Array<[string, unknown]> = [
    ['no @', 'not-an-email'],
    ['two @', 'a@b.com@c.com'],
    ['a quoted local part holding an @', '"a@b"@c.com'],
    ['CR/LF and a Bcc header', 'a@b.com\r\nBcc: x@y.com'],
    ['a bare LF', 'a@b.com\nBcc: x@y.com'],
    ['a NUL', 'a@b.com\u0000x'],
    ['over 500 characters', `${'a'.repeat(490)}@example.com`],
    ['a display name', 'Alice <alice@example.com>'],
    ['an empty local part', '@example.com'],
    ['no domain', 'alice@'],
    ['only whitespace', '   '],
    ['empty', ''],
    ['a comma-separated list', 'a@example.com,b@example.com'],
    ['a number', 42],
    ['an array', ['a@example.com']],
  ];

  it.each(FLOWS)('%s: an invalid or ambiguous address is 400 M_INVALID_PARAM, and no email is sent', async (flow) => {
    await expectNothingStored(async () => {
      for (const [what, email] of BAD_EMAILS) {
        for (const version of ['r0', 'v3'] as const) {
          const res = await fx.post(requestTokenPath(flow, version), validBody(flow, { email }));
          try {
            expect400(flow, res, 'M_INVALID_PARAM');
          } catch (err) {
            throw new Error(`email ${what} on ${version}: ${(err as Error).message}`);
          }
        }
      }
    });
    await expectOnlyNextEmailArrives();
  });

  it('canonicalises Strauß@Example.com to strauss@example.com and sends the email there', async () => {
    const before = fx.smtp.messages.length;
    const res = await fx.post(requestTokenPath('register'), { client_secret: 'strauss_1', email: 'Strauß@Example.com', send_attempt: 1 });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES.register, 'post', 200, res.body);
    const mail = (await fx.smtp.waitFor(before + 1))[before];
    expect(mail.to).toEqual(['strauss@example.com']);

    // The canonical form is the session's address: typed either way, it is the same session.
    const again = await fx.post(requestTokenPath('register'), { client_secret: 'strauss_1', email: 'strauss@example.com', send_attempt: 1 });
    expect(again.body.sid).toBe(res.body.sid);
  });

  it('trims surrounding whitespace and lower-cases the domain before sending', async () => {
    const before = fx.smtp.messages.length;
    const res = await fx.post(requestTokenPath('3pid'), { client_secret: 'trim_1', email: '  Padded.User@EXAMPLE.Org \t', send_attempt: 1 });
    expect(res.status).toBe(200);
    const mail = (await fx.smtp.waitFor(before + 1))[before];
    expect(mail.to).toEqual(['padded.user@example.org']);
  });
});

describe('methods and paths', () => {
  it.each(ALL_ENDPOINTS)('%s %s: GET, PUT, DELETE and PATCH answer 405 M_UNRECOGNIZED', async (_version, flow, path) => {
    await expectNothingStored(async () => {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : validBody(flow);
        const res = await fx.request(method, path, body);
        expect({ method, status: res.status }).toEqual({ method, status: 405 });
        expectMatrixError(res.body, 'M_UNRECOGNIZED');
      }
    });
  });

  it.each([
    '/_matrix/client/v3/register/email/requestTokens',
    '/_matrix/client/v4/register/email/requestToken',
    '/_matrix/client/v3/account/email/requestToken',
    '/_matrix/client/v3/register/fax/requestToken',
    '/_matrix/client/v3/register/email',
    '/_matrix/client/unstable/register/email/requestToken',
    '/nothing/here',
  ])('POST and GET %s answer 404 M_UNRECOGNIZED', async (path) => {
    for (const method of ['POST', 'GET']) {
      const res = await fx.request(method, path, method === 'POST' ? validBody('register') : undefined);
      expect({ method, status: res.status }).toEqual({ method, status: 404 });
      expectMatrixError(res.body, 'M_UNRECOGNIZED');
    }
  });
});

describe('body size', () => {
  const LIMIT = 64 * 1024;

  /** A valid body padded with an unknown field to exactly `size` bytes. */
  function bodyOfSize(size: number): string {
    const base = JSON.stringify({ ...validBody('register'), padding: '' });
    const text = base.replace('"padding":""', `"padding":"${'x'.repeat(size - Buffer.byteLength(base))}"`);
    expect(Buffer.byteLength(text)).toBe(size);
    return text;
  }

  it.each(ALL_ENDPOINTS)('%s %s: a body one byte over 64 KiB is 413 M_TOO_LARGE', async (_version, flow, path) => {
    await expectNothingStored(async () => {
      const res = await fx.post(path, bodyOfSize(LIMIT + 1));
      expect(res.status).toBe(413);
      expectMatrixError(res.body, 'M_TOO_LARGE');
    });
  });

  it('a body of exactly 64 KiB is still read (and the unknown field ignored)', async () => {
    const res = await fx.post(requestTokenPath('register'), bodyOfSize(LIMIT));
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES.register, 'post', 200, res.body);
  });

  it('a large body that is not JSON is 413, not parsed', async () => {
    const res = await fx.post(requestTokenPath('password'), 'x'.repeat(LIMIT * 4));
    expect(res.status).toBe(413);
    expectMatrixError(res.body, 'M_TOO_LARGE');
  });

  it('a chunked body without Content-Length is cut off at 64 KiB with 413', async () => {
    const chunk = new TextEncoder().encode(`{"padding":"${'x'.repeat(16 * 1024)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fx.request('POST', requestTokenPath('register'), undefined, {}, {
      body: stream,
      duplex: 'half',
    } as Partial<RequestInit>);
    expect(res.status).toBe(413);
    expectMatrixError(res.body, 'M_TOO_LARGE');
  });

  it('a compressed body that inflates past 64 KiB is 413', async () => {
    const res = await fx.post(requestTokenPath('register'), zlib.gzipSync(bodyOfSize(LIMIT * 16)), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expectMatrixError(res.body, 'M_TOO_LARGE');
  });
});

describe('all of the above', () => {
  it('never answered 5xx, always answered errors as JSON, and never leaked a stack trace', () => {
    expect(fx.responses.filter((res) => res.status >= 400).length).toBeGreaterThan(300);
    expectNoServerErrorsOrLeaks(fx);
  });
});
