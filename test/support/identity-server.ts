/**
 * A real (in-process) Matrix identity server, v2 API, for tests.
 * Written from the identity-service spec (data/api/identity/*.yaml): validation sessions
 * for email and msisdn, getValidated3pid, OpenID account registration, and terms of service.
 * It never sends anything; the messages it "would have sent" are recorded in `sent`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

export interface RecordedRequest {
  method: string;
  path: string; // path name, without the query string
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown; // parsed JSON (or form) body; the raw text if it was not JSON; undefined if empty
}
export interface SentMessage {
  medium: 'email' | 'msisdn';
  address: string; // canonical: lower-cased email, or msisdn in E.164 without '+'
  sid: string;
  token: string;
  clientSecret: string;
}
export interface FakeIdentityServer {
  url: string; // http://127.0.0.1:PORT
  hostPort: string; // 127.0.0.1:PORT
  termsUrl: string; // the URL to POST in user_accepts to accept the only policy
  issueAccessToken(userId?: string): string;
  requests: RecordedRequest[];
  sent: SentMessage[];
  validate(sid: string): void;
  close(): Promise<void>;
}

/** Addresses that make requestToken fail, to test error pass-through. */
export const IS_TEST_HOOKS = {
  rejectedEmail: 'reject@example.com', // 400 M_DESTINATION_REJECTED
  sendErrorEmail: 'senderror@example.com', // 400 M_EMAIL_SEND_ERROR
  rejectedPhone: '0000000000', // phone_number -> 400 M_DESTINATION_REJECTED
  sendErrorPhone: '0000000001', // phone_number -> 400 M_SEND_ERROR
} as const;

const TERMS_URL = 'https://example.org/somewhere/privacy-1.2-en.html';
const SECRET_RE = /^[0-9a-zA-Z.=_-]{1,255}$/;
const V2 = '/_matrix/identity/v2';

interface Session {
  sid: string;
  medium: 'email' | 'msisdn';
  address: string;
  clientSecret: string;
  token: string;
  sendAttempt: number;
  nextLink?: string;
  validatedAt?: number;
}

class MatrixError extends Error {
  constructor(readonly status: number, readonly errcode: string, message: string) {
    super(message);
  }
}

const rand = (bytes: number) => randomBytes(bytes).toString('base64url');

export async function startIdentityServer(opts: { requireTerms?: boolean } = {}): Promise<FakeIdentityServer> {
  const requireTerms = opts.requireTerms ?? true;
  const tokens = new Map<string, string>(); // access token -> user id
  const accepted = new Set<string>(); // user ids that accepted the policy
  const sessions = new Map<string, Session>(); // sid -> session
  const requests: RecordedRequest[] = [];
  const sent: SentMessage[] = [];

  const issueAccessToken = (userId = '@alice:example.org') => {
    const token = `ist_${rand(24)}`;
    tokens.set(token, userId);
    return token;
  };

  const authenticate = (req: IncomingMessage, logout = false): { token: string; userId: string } => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!m) throw new MatrixError(401, 'M_UNAUTHORIZED', 'Missing access token');
    const userId = tokens.get(m[1]!);
    if (!userId) {
      if (logout) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unrecognised access token');
      throw new MatrixError(401, 'M_UNAUTHORIZED', 'Unrecognised access token');
    }
    return { token: m[1]!, userId };
  };
  const authWithTerms = (req: IncomingMessage) => {
    const auth = authenticate(req);
    if (requireTerms && !accepted.has(auth.userId)) {
      throw new MatrixError(403, 'M_TERMS_NOT_SIGNED', 'Please accept our updated terms of service before continuing');
    }
    return auth;
  };

  const str = (body: Record<string, unknown>, key: string): string => {
    const v = body[key];
    if (v === undefined || v === null) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing parameter: ${key}`);
    if (typeof v !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', `Parameter ${key} must be a string`);
    return v;
  };
  const secretOf = (body: Record<string, unknown>): string => {
    const s = str(body, 'client_secret');
    if (!SECRET_RE.test(s)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid client_secret');
    return s;
  };

  const requestToken = (medium: 'email' | 'msisdn', body: Record<string, unknown>) => {
    const required = ['client_secret', ...(medium === 'email' ? ['email'] : ['country', 'phone_number']), 'send_attempt'];
    const missing = required.find((k) => body[k] === undefined || body[k] === null);
    if (missing) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing parameter: ${missing}`);
    const clientSecret = secretOf(body);
    let address: string;
    if (medium === 'email') {
      const email = str(body, 'email').trim();
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new MatrixError(400, 'M_INVALID_EMAIL', 'The email address is not valid');
      address = email.toLowerCase();
      if (address === IS_TEST_HOOKS.rejectedEmail) throw new MatrixError(400, 'M_DESTINATION_REJECTED', 'Cannot send email to this address');
      if (address === IS_TEST_HOOKS.sendErrorEmail) throw new MatrixError(400, 'M_EMAIL_SEND_ERROR', 'The validation email could not be sent');
    } else {
      const country = str(body, 'country').toUpperCase();
      const phone = str(body, 'phone_number').replace(/[\s().-]/g, '');
      if (!/^\+?\d{3,20}$/.test(phone)) throw new MatrixError(400, 'M_INVALID_ADDRESS', 'The phone number is not valid');
      if (phone === IS_TEST_HOOKS.rejectedPhone) throw new MatrixError(400, 'M_DESTINATION_REJECTED', 'Cannot send SMS to this country');
      if (phone === IS_TEST_HOOKS.sendErrorPhone) throw new MatrixError(400, 'M_SEND_ERROR', 'The validation SMS could not be sent');
      const parsed = /^[A-Z]{2}$/.test(country) ? parsePhoneNumberFromString(phone, country as CountryCode) : undefined;
      address = parsed?.isPossible() ? parsed.number.slice(1) : phone.replace(/^\+/, '');
    }
    const attempt = body.send_attempt;
    const sendAttempt = typeof attempt === 'string' && /^-?\d+$/.test(attempt) ? Number(attempt) : attempt;
    if (typeof sendAttempt !== 'number' || !Number.isInteger(sendAttempt)) throw new MatrixError(400, 'M_INVALID_PARAM', 'send_attempt must be an integer');
    const nextLink = typeof body.next_link === 'string' ? body.next_link : undefined;

    // One session per client_secret + address; a higher send_attempt re-sends its token (a reminder).
    let session = [...sessions.values()].find((s) => s.medium === medium && s.clientSecret === clientSecret && s.address === address);
    if (session && sendAttempt <= session.sendAttempt) return { sid: session.sid };
    if (session) {
      session.sendAttempt = sendAttempt;
      if (nextLink !== undefined) session.nextLink = nextLink;
    } else {
      session = { sid: rand(12), medium, address, clientSecret, token: rand(18), sendAttempt, nextLink };
      sessions.set(session.sid, session);
    }
    sent.push({ medium, address, sid: session.sid, token: session.token, clientSecret });
    return { sid: session.sid };
  };

  const submitToken = (medium: 'email' | 'msisdn', params: Record<string, unknown>): Session => {
    const sid = str(params, 'sid');
    const clientSecret = secretOf(params);
    const token = str(params, 'token');
    const s = sessions.get(sid);
    if (!s || s.medium !== medium || s.clientSecret !== clientSecret) throw new MatrixError(400, 'M_INVALID_PARAM', 'No session matches that sid and client_secret');
    if (s.token !== token) throw new MatrixError(400, 'M_TOKEN_INCORRECT', 'The token is incorrect');
    s.validatedAt ??= Date.now();
    return s;
  };

  const getValidated = (query: Record<string, string>) => {
    const sid = str(query, 'sid');
    const clientSecret = str(query, 'client_secret');
    const s = sessions.get(sid);
    if (!s || s.clientSecret !== clientSecret) throw new MatrixError(404, 'M_NO_VALID_SESSION', 'No valid session was found matching that sid and client secret');
    if (s.validatedAt === undefined) throw new MatrixError(400, 'M_SESSION_NOT_VALIDATED', 'This validation session has not yet been completed');
    return { medium: s.medium, address: s.address, validated_at: s.validatedAt };
  };

  type Reply = { status?: number; json: unknown } | { status: number; text: string; location?: string };
  const route = (req: IncomingMessage, method: string, path: string, query: Record<string, string>, body: Record<string, unknown>): Reply => {
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /_matrix/identity/versions':
        return { json: { versions: ['v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12', 'v1.13', 'v1.14', 'v1.15', 'v1.16', 'v1.17', 'v1.18', 'v1.19'] } };
      case `GET ${V2}`:
        return { json: {} };
      case `POST ${V2}/account/register`: {
        for (const k of ['access_token', 'token_type', 'matrix_server_name']) str(body, k);
        if (typeof body.expires_in !== 'number') throw new MatrixError(400, body.expires_in === undefined ? 'M_MISSING_PARAM' : 'M_INVALID_PARAM', 'expires_in');
        return { json: { token: issueAccessToken(`@openid:${body.matrix_server_name as string}`) } };
      }
      case `GET ${V2}/account`:
        return { json: { user_id: authenticate(req).userId } };
      case `POST ${V2}/account/logout`:
        tokens.delete(authenticate(req, true).token);
        return { json: {} };
      case `GET ${V2}/terms`:
        return { json: { policies: { privacy_policy: { version: '1.2', en: { name: 'Privacy Policy', url: TERMS_URL } } } } };
      case `POST ${V2}/terms`: {
        const { userId } = authenticate(req);
        const urls = body.user_accepts;
        if (urls === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing parameter: user_accepts');
        if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')) throw new MatrixError(400, 'M_INVALID_PARAM', 'user_accepts must be a list of strings');
        if (urls.includes(TERMS_URL)) accepted.add(userId);
        return { json: {} };
      }
    }
    const m = /^\/_matrix\/identity\/v2\/validate\/(email|msisdn)\/(requestToken|submitToken)$/.exec(path);
    if (m) {
      const medium = m[1] as 'email' | 'msisdn';
      if (m[2] === 'requestToken' && method === 'POST') {
        authWithTerms(req);
        return { json: requestToken(medium, body) };
      }
      if (m[2] === 'submitToken' && method === 'POST') {
        authWithTerms(req);
        submitToken(medium, body);
        return { json: { success: true } };
      }
      if (m[2] === 'submitToken' && method === 'GET') {
        authWithTerms(req);
        try {
          const s = submitToken(medium, query);
          if (s.nextLink) return { status: 302, text: `Redirecting to ${s.nextLink}`, location: s.nextLink };
          return { status: 200, text: 'Validation successful: you may now return to your Matrix client.' };
        } catch (e) {
          if (e instanceof MatrixError) return { status: e.status, text: `Validation failed: ${e.message}` };
          throw e;
        }
      }
    }
    if (method === 'GET' && path === `${V2}/3pid/getValidated3pid`) {
      authWithTerms(req);
      return { json: getValidated(query) };
    }
    const known = [`${V2}/account/register`, `${V2}/account`, `${V2}/account/logout`, `${V2}/terms`, `${V2}/3pid/getValidated3pid`, '/_matrix/identity/versions'];
    if (m || known.includes(path)) throw new MatrixError(405, 'M_UNRECOGNIZED', 'Unsupported method');
    throw new MatrixError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(u.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const record: RecordedRequest = { method, path: u.pathname, query, headers: { ...req.headers }, body: undefined };
    requests.push(record);
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    try {
      let body: Record<string, unknown> = {};
      if (raw.trim() !== '') {
        if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          record.body = body = Object.fromEntries(new URLSearchParams(raw)); // deprecated, but allowed by the spec
        } else {
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch {
            record.body = raw;
            throw new MatrixError(400, 'M_NOT_JSON', 'Content not JSON.');
          }
          record.body = parsed;
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MatrixError(400, 'M_BAD_JSON', 'Body must be a JSON object');
          body = parsed as Record<string, unknown>;
        }
      }
      const out = route(req, method, u.pathname, query, body);
      if ('json' in out) return send(out.status ?? 200, out.json);
      res.writeHead(out.status, { 'content-type': 'text/plain; charset=utf-8', ...(out.location ? { location: out.location } : {}) }).end(out.text);
    } catch (e) {
      if (e instanceof MatrixError) return send(e.status, { errcode: e.errcode, error: e.message });
      send(500, { errcode: 'M_UNKNOWN', error: String(e) });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    termsUrl: TERMS_URL,
    issueAccessToken,
    requests,
    sent,
    validate(sid: string) {
      const s = sessions.get(sid);
      if (!s) throw new Error(`identity-server fake: unknown sid ${sid}`);
      s.validatedAt ??= Date.now();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
