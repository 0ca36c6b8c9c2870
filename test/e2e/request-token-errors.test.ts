/**
 * The email requestToken endpoints refuse bad input with a Matrix error, store
 * nothing and send nothing; never a 500, never a stack trace.
 *
 * The six endpoints (r0 and v3 of three flows) share one handler: the first
 * block checks once per endpoint that it is routed to it (body limit, parser,
 * validator, methods); every validation case after it runs once, against
 * `/v3/register`.
 */
import zlib from 'node:zlib';
import type { Flow } from '../../src/model';
import {
  ALL_ENDPOINTS,
  expectNoServerErrorsOrLeaks,
  requestTokenPath,
  SPEC_FILES,
  startFixture,
  type Fixture,
  type RawResponse,
} from '../support/request-token-fixture';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

/** An address bound to a user, so that the password flow would accept it. */
const BOUND = 'owner@example.org';
/** Where the validation cases are sent. */
const PATH = requestTokenPath('register');
const LIMIT = 64 * 1024;

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
 * A body the flow would accept: the bound address for password reset, a fresh
 * one otherwise, so that a check a flow forgot shows up as a 200 rather than
 * being hidden by a directory refusal.
 */
function validBody(flow: Flow, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  const email = flow === 'password' ? BOUND : `fresh${counter}@example.org`;
  return { client_secret: `secret${counter}`, email, send_attempt: 1, ...overrides };
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

/** A valid register body padded with an unknown field to exactly `size` bytes. */
function bodyOfSize(size: number): string {
  const base = JSON.stringify({ ...validBody('register'), padding: '' });
  const text = base.replace('"padding":""', `"padding":"${'x'.repeat(size - Buffer.byteLength(base))}"`);
  expect(Buffer.byteLength(text)).toBe(size);
  return text;
}

describe('each endpoint', () => {
  it.each(ALL_ENDPOINTS)('%s %s: is routed to the validating handler, and accepts a valid body', async (_version, flow, path) => {
    await expectNothingStored(async () => {
      expect400(flow, await fx.post(path, '{not json'), 'M_NOT_JSON');
      expect400(flow, await fx.post(path, '[]'), 'M_BAD_JSON');
      const empty = await fx.post(path, {});
      expect400(flow, empty, 'M_MISSING_PARAM');
      for (const field of ['client_secret', 'email', 'send_attempt']) expect(empty.body.error).toContain(field);
      expect400(flow, await fx.post(path, validBody(flow, { client_secret: 'has space' })), 'M_INVALID_PARAM');
      expect400(flow, await fx.post(path, validBody(flow, { send_attempt: '1' })), 'M_INVALID_PARAM');
      expect400(flow, await fx.post(path, validBody(flow, { email: 'a@b.com\r\nBcc: x@y.com' })), 'M_INVALID_PARAM');
      const tooLarge = await fx.post(path, bodyOfSize(LIMIT + 1));
      expect(tooLarge.status).toBe(413);
      expectMatrixError(tooLarge.body, 'M_TOO_LARGE');
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fx.request(method, path, method === 'GET' || method === 'DELETE' ? undefined : validBody(flow));
        expect({ method, status: res.status }).toEqual({ method, status: 405 });
        expectMatrixError(res.body, 'M_UNRECOGNIZED');
      }
    });
    const ok = await fx.post(path, validBody(flow));
    expect(ok.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES[flow], 'post', 200, ok.body);
  });
});

describe('a body that is not JSON', () => {
  it.each(['{not json', '{"client_secret": "abc",}', 'client_secret=abc&send_attempt=1', "{'a': 1}", 'NaN'])(
    '%j answers 400 M_NOT_JSON and stores nothing',
    async (body) => {
      await expectNothingStored(async () => expect400('register', await fx.post(PATH, body), 'M_NOT_JSON'));
    },
  );

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
  it.each(['[]', JSON.stringify([validBody('register')]), '42', '"a string"', 'true', 'null'])(
    '%s answers 400 M_BAD_JSON and stores nothing',
    async (body) => {
      await expectNothingStored(async () => expect400('register', await fx.post(PATH, body), 'M_BAD_JSON'));
    },
  );
});

describe('missing fields', () => {
  const FIELDS = ['client_secret', 'email', 'send_attempt'];

  it.each(FIELDS)('a body without %s is 400 M_MISSING_PARAM naming it, and only it', async (missing) => {
    const body = validBody('register');
    delete body[missing];
    await expectNothingStored(async () => {
      const res = await fx.post(PATH, body);
      expect400('register', res, 'M_MISSING_PARAM');
      expect(res.body.error).toContain(missing);
      for (const present of FIELDS.filter((field) => field !== missing)) expect(res.body.error).not.toContain(present);
    });
  });

  it('a body with two fields missing names both', async () => {
    await expectNothingStored(async () => {
      const res = await fx.post(PATH, { email: 'two-missing@example.org' });
      expect400('register', res, 'M_MISSING_PARAM');
      expect(res.body.error).toContain('client_secret');
      expect(res.body.error).toContain('send_attempt');
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

  it.each(BAD_SECRETS)('a client_secret %s (outside ^[0-9a-zA-Z.=_-]{1,255}$) is 400 M_INVALID_PARAM, with nothing stored', async (_what, secret) => {
    await expectNothingStored(async () => {
      expect400('register', await fx.post(PATH, validBody('register', { client_secret: secret })), 'M_INVALID_PARAM');
    });
  });

  it('a 255-character secret using every allowed character is accepted', async () => {
    const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.=_-';
    const unique = String(++counter);
    const secret = alphabet.repeat(4).slice(0, 255 - unique.length) + unique;
    expect(secret).toMatch(/^[0-9a-zA-Z.=_-]{255}$/);
    const res = await fx.post(PATH, validBody('register', { client_secret: secret }));
    expect(res.status).toBe(200);
    expectResponseMatchesSpec(...SPEC_FILES.register, 'post', 200, res.body);
  });
});

describe('send_attempt', () => {
  const BAD_ATTEMPTS: unknown[] = ['1', 1.5, -1, true, [1], { n: 1 }, '', 'one'];

  it.each(BAD_ATTEMPTS)('a send_attempt of %j (not a non-negative integer) is 400 M_INVALID_PARAM, with nothing stored', async (attempt) => {
    await expectNothingStored(async () => {
      expect400('register', await fx.post(PATH, validBody('register', { send_attempt: attempt })), 'M_INVALID_PARAM');
    });
  });

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

  it.each(BAD_EMAILS)('an address with %s is 400 M_INVALID_PARAM, with nothing stored', async (_what, email) => {
    await expectNothingStored(async () => {
      expect400('register', await fx.post(PATH, validBody('register', { email })), 'M_INVALID_PARAM');
    });
  });

  it('canonicalises Strauß@Example.com to strauss@example.com and sends the email there', async () => {
    await fx.drained();
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
    await fx.drained();
    const before = fx.smtp.messages.length;
    const res = await fx.post(requestTokenPath('3pid'), { client_secret: 'trim_1', email: '  Padded.User@EXAMPLE.Org \t', send_attempt: 1 });
    expect(res.status).toBe(200);
    const mail = (await fx.smtp.waitFor(before + 1))[before];
    expect(mail.to).toEqual(['padded.user@example.org']);
  });
});

describe('paths', () => {
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
  it('a body one byte over 64 KiB is 413 M_TOO_LARGE', async () => {
    await expectNothingStored(async () => {
      const res = await fx.post(PATH, bodyOfSize(LIMIT + 1));
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

describe('whatever the tests above sent', () => {
  it('no answer was a 5xx or leaked a stack trace, and errors were JSON', () => {
    expectNoServerErrorsOrLeaks(fx);
  });

  // (That a refused request stored and queued nothing, each test above checks.)
  it('every email the SMTP sink received went through the outbox: none left any other way', async () => {
    await fx.drained();
    expect(fx.smtp.messages).toHaveLength(await fx.count('threepid_outbox'));
  });
});
