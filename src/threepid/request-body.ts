import { ThreepidError } from './errors';

/** The spec's rule for `client_secret` and `sid` (appendix "Opaque Identifiers"). */
export const OPAQUE_ID_PATTERN = /^[0-9a-zA-Z.=_-]{1,255}$/;

export type JsonObject = Record<string, unknown>;

/** The body must be a JSON object; any other JSON value is `M_BAD_JSON`. */
export function requireObject(body: unknown): JsonObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ThreepidError('M_BAD_JSON', 'The request body must be a JSON object');
  }
  return body as JsonObject;
}

/** Every missing field is named at once, so a client fixes them in one go. */
export function requireFields(body: JsonObject, fields: readonly string[]): void {
  const missing = fields.filter((field) => body[field] === undefined || body[field] === null);
  if (missing.length > 0) {
    throw new ThreepidError('M_MISSING_PARAM', `Missing parameter(s): ${missing.join(', ')}`);
  }
}

/** A UTF-16 code unit of a surrogate pair without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether a string is well-formed Unicode (no lone surrogate). JSON can carry
 * lone surrogates (`"\ud800"`), which no URL, header or UTF-8 text can hold:
 * `encodeURI` throws on them.
 */
export function isWellFormedText(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/** Every string field of a body is well-formed Unicode, or `M_INVALID_PARAM`. */
export function stringField(body: JsonObject, field: string): string {
  const value = body[field];
  if (typeof value !== 'string') throw new ThreepidError('M_INVALID_PARAM', `${field} must be a string`);
  if (!isWellFormedText(value)) throw new ThreepidError('M_INVALID_PARAM', `${field} is not well-formed Unicode text`);
  return value;
}

/**
 * An access token for an identity server travels in an `Authorization`
 * header: visible ASCII only (RFC 6750's token characters are a subset), so
 * CR/LF can never split the header and nothing outside a header's bytes
 * reaches it.
 */
export const ACCESS_TOKEN_PATTERN = /^[\x21-\x7e]{1,4096}$/;

export function optionalAccessTokenField(body: JsonObject, field: string): string | undefined {
  const value = optionalStringField(body, field);
  if (value !== undefined && value.length > 0 && !ACCESS_TOKEN_PATTERN.test(value)) {
    throw new ThreepidError('M_INVALID_PARAM', `${field} may contain only visible ASCII characters`);
  }
  return value;
}

export function optionalStringField(body: JsonObject, field: string): string | undefined {
  return body[field] === undefined || body[field] === null ? undefined : stringField(body, field);
}

export function opaqueIdField(body: JsonObject, field: string): string {
  const value = stringField(body, field);
  if (!OPAQUE_ID_PATTERN.test(value)) {
    throw new ThreepidError('M_INVALID_PARAM', `${field} must match ${OPAQUE_ID_PATTERN.source}`);
  }
  return value;
}

/** A JSON integer: the string "1" is refused, not coerced. */
export function integerField(body: JsonObject, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ThreepidError('M_INVALID_PARAM', `${field} must be a non-negative integer`);
  }
  return value;
}

/** Fields common to every requestToken body. */
export interface TokenRequestBase {
  readonly clientSecret: string;
  readonly sendAttempt: number;
  readonly nextLink?: string;
  readonly idServer?: string;
  readonly idAccessToken?: string;
}

export function parseTokenRequestBase(body: JsonObject, mediumFields: readonly string[]): TokenRequestBase {
  requireFields(body, ['client_secret', ...mediumFields, 'send_attempt']);
  return {
    clientSecret: opaqueIdField(body, 'client_secret'),
    sendAttempt: integerField(body, 'send_attempt'),
    nextLink: optionalStringField(body, 'next_link'),
    idServer: optionalStringField(body, 'id_server'),
    idAccessToken: optionalAccessTokenField(body, 'id_access_token'),
  };
}

/** The body of `POST submit_url` (and of the link page's form). */
export interface SubmitTokenRequest {
  readonly sid: string;
  readonly clientSecret: string;
  readonly token: string;
}

export function parseSubmitTokenRequest(input: unknown): SubmitTokenRequest {
  const body = requireObject(input);
  requireFields(body, ['sid', 'client_secret', 'token']);
  const token = stringField(body, 'token');
  if (token.length === 0 || token.length > 255) throw new ThreepidError('M_INVALID_PARAM', 'token is not valid');
  return { sid: opaqueIdField(body, 'sid'), clientSecret: opaqueIdField(body, 'client_secret'), token };
}
