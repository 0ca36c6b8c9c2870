/**
 * Signature Version 4, checked as AWS checks it, written here from AWS's
 * description with node:crypto alone, so that a stand-in does not trust the
 * signing library it is testing.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface SigV4Key {
  readonly secretAccessKey: string;
  /** Temporary credentials come with a session token, sent as X-Amz-Security-Token. */
  readonly sessionToken?: string;
}

export interface SigV4Expectation {
  readonly keys: Readonly<Record<string, SigV4Key>>;
  readonly region: string;
  readonly service: string;
  readonly now: () => number;
}

/** What AWS answers for a request it will not take: 403 with one of its codes. */
export interface SigV4Refusal {
  readonly code: string;
  readonly message: string;
}

const SKEW_MS = 15 * 60_000;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const rfc3986 = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function canonicalQuery(query: string): string {
  return [...new URLSearchParams(query)]
    .map(([name, value]) => [rfc3986(name), rfc3986(value)])
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

/** Why AWS would refuse the request's signature, or undefined when it holds. */
export function sigV4Refusal(req: IncomingMessage, body: Buffer, expected: SigV4Expectation): SigV4Refusal | undefined {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
  if (!auth) return { code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
  const [, credential, signedHeaderList, signature] = auth;
  const [keyId, date, region, service, terminator, ...rest] = credential.split('/');
  const key = expected.keys[keyId];
  if (!key) return { code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' };
  const amzDate = headerValue(req, 'x-amz-date') ?? '';
  const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!when) return { code: 'IncompleteSignature', message: 'X-Amz-Date is missing or malformed' };
  if (rest.length > 0 || terminator !== 'aws4_request' || date !== amzDate.slice(0, 8) || region !== expected.region || service !== expected.service) {
    return { code: 'SignatureDoesNotMatch', message: `Credential should be scoped to ${amzDate.slice(0, 8)}/${expected.region}/${expected.service}/aws4_request` };
  }
  const signedAt = Date.UTC(+when[1], +when[2] - 1, +when[3], +when[4], +when[5], +when[6]);
  if (Math.abs(signedAt - expected.now()) > SKEW_MS) return { code: 'SignatureDoesNotMatch', message: 'Signature expired' };
  if (headerValue(req, 'x-amz-security-token') !== key.sessionToken) {
    return { code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' };
  }
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date') || [...signedHeaders].sort().join(';') !== signedHeaderList) {
    return { code: 'SignatureDoesNotMatch', message: 'SignedHeaders must be sorted and include host and x-amz-date' };
  }
  const [path, query = ''] = (req.url ?? '/').split('?', 2);
  const canonicalRequest = [
    req.method,
    path.split('/').map((segment) => rfc3986(decodeURIComponent(segment))).join('/'),
    canonicalQuery(query),
    ...signedHeaders.map((name) => `${name}:${headerValue(req, name) ?? ''}`),
    '',
    signedHeaderList,
    sha256(body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const signingKey = [date, region, service, 'aws4_request'].reduce<string | Buffer>((k, part) => hmac(k, part), `AWS4${key.secretAccessKey}`);
  const expectedSignature = Buffer.from(hmac(signingKey, stringToSign).toString('hex'));
  if (!timingSafeEqual(expectedSignature, Buffer.from(signature))) {
    return { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return undefined;
}
