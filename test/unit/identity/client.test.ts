import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IdentityServerClient, IdentityServerError } from '../../../src/identity/client';
import { IdentityCallRefused } from '../../../src/threepid/ports';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** The identity-server client against a server on loopback whose answers each test scripts. */
describe('IdentityServerClient against an identity server that answers as scripted', () => {
  let server: Server;
  let idServer: string;
  let answer: Answer;
  let seen: Array<{ method: string; url: string; authorization?: string; body: string }>;

  const json = (status: number, body: unknown): Answer => (_req, res) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
        answer(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    idServer = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    seen = [];
  });

  const client = (more: { timeoutMs?: number; maxResponseBytes?: number; ipRangeWhitelist?: string[] } = {}) =>
    new IdentityServerClient({
      allowHttp: true,
      ipRangeWhitelist: more.ipRangeWhitelist ?? ['127.0.0.0/8'],
      timeoutMs: more.timeoutMs ?? 10_000,
      maxResponseBytes: more.maxResponseBytes ?? 65_536,
    });

  async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a rejection');
  }

  /** An IdentityServerError as the client makes one: its status, M_UNKNOWN, and what went wrong. */
  const upstream = (status: number, body: { errcode: string; error: string }) => ({ name: 'IdentityServerError', status, body });

  const requestToken = (c = client(), token = 'is-token') => c.requestToken(idServer, 'email', { email: 'a@example.org' }, token);

  it("asks for a token with the user's identity access token, and answers the identity server's sid", async () => {
    answer = json(200, { sid: 'is.sid_1' });
    expect(await requestToken()).toEqual({ sid: 'is.sid_1' });
    expect(seen).toEqual([{ method: 'POST', url: '/_matrix/identity/v2/validate/email/requestToken', authorization: 'Bearer is-token', body: '{"email":"a@example.org"}' }]);
  });

  it('refuses a sid that is missing or not made of the allowed characters', async () => {
    for (const sid of [undefined, 7, '', 'a/b', 'x'.repeat(256)]) {
      answer = json(200, { sid });
      expect(await rejection(requestToken())).toMatchObject(upstream(502, { errcode: 'M_UNKNOWN', error: 'The identity server gave an invalid session ID' }));
    }
  });

  it('reads a validated address, with its query, and refuses an answer missing a field', async () => {
    answer = json(200, { medium: 'email', address: 'a@example.org', validated_at: 1234 });
    expect(await client().getValidated3pid(idServer, 'sid 1', 'sec&ret', 'tok')).toEqual({ medium: 'email', address: 'a@example.org', validatedAt: 1234 });
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/_matrix/identity/v2/3pid/getValidated3pid?sid=sid+1&client_secret=sec%26ret', body: '' });
    answer = json(200, { medium: 'email', address: 'a@example.org', validated_at: '1234' });
    const err = await rejection(client().getValidated3pid(idServer, 's', 'c', 'tok'));
    expect(err).toMatchObject(upstream(502, { errcode: 'M_UNKNOWN', error: 'The identity server gave an invalid answer' }));
  });

  it("passes the identity server's own Matrix error on unchanged, with its status", async () => {
    answer = json(400, { errcode: 'M_INVALID_EMAIL', error: 'nope', extra: 1 });
    const err = await rejection(requestToken());
    expect(err).toBeInstanceOf(IdentityServerError);
    expect(err).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_EMAIL', error: 'nope', extra: 1 } });
  });

  it('turns any other answer into a 502 that says what was wrong', async () => {
    const cases: Array<[Answer, string]> = [
      [json(500, { error: 'no errcode' }), 'The identity server gave an unexpected answer'],
      [json(200, ['an', 'array']), 'The identity server gave an unexpected answer'],
      [json(200, null), 'The identity server gave an unexpected answer'],
      [json(202, 'a string'), 'The identity server gave an unexpected answer'],
      [(_req, res) => void res.writeHead(200).end('<html>'), 'The identity server gave an answer that is not JSON'],
      [(_req, res) => void res.writeHead(302, { location: 'http://127.0.0.1/' }).end(), 'The identity server answered with a redirect'],
    ];
    for (const [scripted, error] of cases) {
      answer = scripted;
      expect(await rejection(requestToken())).toMatchObject(upstream(502, { errcode: 'M_UNKNOWN', error }));
    }
  });

  it('stops reading an answer larger than the cap', async () => {
    answer = json(200, { sid: 'x', padding: 'p'.repeat(2_000) });
    expect(await rejection(requestToken(client({ maxResponseBytes: 1_000 })))).toEqual(
      new IdentityServerError(502, { errcode: 'M_UNKNOWN', error: 'The identity server answer is too large' }),
    );
  });

  it('gives up with a 504 when the identity server does not answer by the deadline', async () => {
    answer = () => {
      /* never answers */
    };
    expect(await rejection(requestToken(client({ timeoutMs: 200 })))).toEqual(
      new IdentityServerError(504, { errcode: 'M_UNKNOWN', error: 'The identity server did not answer in time' }),
    );
  });

  it('says the connection failed when the answer is cut off midway', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"sid":', () => res.socket?.destroy());
    };
    expect(await rejection(requestToken())).toMatchObject(upstream(502, { errcode: 'M_UNKNOWN', error: 'The identity server connection failed' }));
  });

  it('says the identity server could not be reached when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await rejection(client().requestToken(`127.0.0.1:${port}`, 'email', {}, 'tok'))).toEqual(
      new IdentityServerError(502, { errcode: 'M_UNKNOWN', error: 'The identity server could not be reached' }),
    );
  });

  it('calls nothing with a token that cannot be a header, or at an address outside the allowed ranges', async () => {
    answer = json(200, { sid: 'never' });
    const badToken = await rejection(requestToken(client(), 'tok\nen'));
    expect(badToken).toBeInstanceOf(IdentityCallRefused);
    expect(badToken).toMatchObject({ reason: 'bad-access-token' });
    const literal = await rejection(requestToken(client({ ipRangeWhitelist: [] })));
    expect(literal).toBeInstanceOf(IdentityCallRefused);
    expect(literal).toMatchObject({ reason: 'address-not-allowed' });
    const named = await rejection(client({ ipRangeWhitelist: [] }).requestToken(`localhost:${idServer.split(':')[1]}`, 'email', {}, 'tok'));
    expect(named).toBeInstanceOf(IdentityCallRefused);
    expect(named).toMatchObject({ reason: 'address-not-allowed' });
    expect(seen).toEqual([]);
  });
});
