import { createHmac } from 'node:crypto';
import type { Clock, RandomSource } from '../sources';
import type { Medium, IdentityCredentials } from '../model';
import { ThreepidError } from './errors';
import { OPAQUE_ID_PATTERN, optionalAccessTokenField, optionalStringField, requireObject, type JsonObject } from './request-body';
import { hashesEqual, randomId } from './tokens';

/** The UIA stage types that prove a 3PID, and the medium each proves. */
export const THREEPID_STAGES: Readonly<Record<string, Medium>> = {
  'm.login.email.identity': 'email',
  'm.login.msisdn': 'msisdn',
};

/** A stage type that proves a 3PID: an own key of {@link THREEPID_STAGES}, never one it inherits (`"constructor"`). */
export function isThreepidStage(type: unknown): type is string {
  return typeof type === 'string' && Object.hasOwn(THREEPID_STAGES, type);
}

/** The credentials inside an `m.login.email.identity` / `m.login.msisdn` auth dict. */
export interface ThreepidAuth {
  readonly type: string;
  readonly medium: Medium;
  readonly sid: string;
  readonly clientSecret: string;
  readonly creds: IdentityCredentials;
}

/**
 * Reads a UIA auth dict of a 3PID stage. The current spec names the
 * credentials `threepid_creds`; r0.x named them `threepidCreds`, which some
 * clients still send, sometimes as a one-element array (Element sends both
 * spellings on password reset).
 */
export function parseThreepidAuth(input: unknown): ThreepidAuth {
  const auth = requireObject(input);
  const type = auth.type;
  if (!isThreepidStage(type)) {
    throw new ThreepidError('M_INVALID_PARAM', 'auth.type must be m.login.email.identity or m.login.msisdn');
  }
  let creds = auth.threepid_creds ?? auth.threepidCreds;
  if (Array.isArray(creds) && creds.length === 1) creds = creds[0];
  if (creds === undefined || creds === null) throw new ThreepidError('M_MISSING_PARAM', 'auth.threepid_creds is required');
  if (typeof creds !== 'object' || Array.isArray(creds)) {
    throw new ThreepidError('M_INVALID_PARAM', 'auth.threepid_creds must be an object');
  }
  const fields = creds as JsonObject;
  const sid = fields.sid;
  const clientSecret = fields.client_secret;
  if (typeof sid !== 'string' || typeof clientSecret !== 'string') {
    throw new ThreepidError('M_MISSING_PARAM', 'auth.threepid_creds needs sid and client_secret');
  }
  if (!OPAQUE_ID_PATTERN.test(sid) || !OPAQUE_ID_PATTERN.test(clientSecret)) {
    throw new ThreepidError('M_INVALID_PARAM', 'auth.threepid_creds has an invalid sid or client_secret');
  }
  return {
    type,
    medium: THREEPID_STAGES[type],
    sid,
    clientSecret,
    creds: { idServer: optionalStringField(fields, 'id_server'), idAccessToken: optionalAccessTokenField(fields, 'id_access_token') },
  };
}

/** The user must (re-)authenticate: answered as a UIA `401` with this body. */
export class UiaRequired extends Error {
  constructor(readonly body: Readonly<Record<string, unknown>>) {
    super('user-interactive authentication required');
    this.name = 'UiaRequired';
  }
}

/** How long a UIA session the module started stays usable. */
const UIA_SESSION_LIFETIME_MS = 15 * 60_000;

/**
 * UIA sessions for the module's own password stage, kept in no database:
 * the session ID carries its start time, its user and an HMAC over both, so
 * any replica can check it.
 *
 * That start time is on the wall clock, on purpose: a monotonic reading
 * means nothing to another replica or after a restart. A clock step moves
 * a session's end by the step, which costs little: the session proves
 * nothing by itself (the password is checked on every try), and one that
 * ends early, or seems to start in the future, only gets a new challenge.
 */
export class StatelessUiaSessions {
  constructor(
    private readonly secret: string,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  start(userId: string): string {
    const issued = `${this.clock.now().toString(36)}.${randomId(this.random)}`;
    return `${issued}.${this.mac(userId, issued)}`;
  }

  isValid(userId: string, session: unknown): boolean {
    if (typeof session !== 'string') return false;
    const parts = session.split('.');
    if (parts.length !== 3) return false;
    const issued = `${parts[0]}.${parts[1]}`;
    const age = this.clock.now() - parseInt(parts[0], 36);
    return age >= 0 && age < UIA_SESSION_LIFETIME_MS && hashesEqual(parts[2], this.mac(userId, issued));
  }

  private mac(userId: string, issued: string): string {
    return createHmac('sha256', this.secret).update(`${userId}\n${issued}`).digest('base64url');
  }
}
