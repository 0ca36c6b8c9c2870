import type { IdentityCredentials, Medium } from '../model';
import type { Clock } from '../sources';
import { HomeserverRateLimited, HomeserverUnavailable, type BindingRecord, type Storage, type UserAuthority } from './ports';
import { canonicalAddress, parseMedium } from './bindings';
import { ThreepidError, isThreepidError } from './errors';
import { opaqueIdField, optionalAccessTokenField, optionalStringField, requireFields, requireObject, stringField } from './request-body';
import type { Limiter } from './rate-limiter';
import type { ThreepidService } from './service';
import { StatelessUiaSessions, UiaRequired } from './uia';
import { threepidChangesDisabled } from './address-checks';

const PASSWORD_STAGE = 'm.login.password';

/** Where a request comes from: the client's IP as the module found it, and the key its per-IP limits count under. */
export interface RequestOrigin {
  readonly clientIp: string;
  readonly rateLimitKey: string;
}

/** How often a password may be checked: per user, and per client IP (`rc_password_check`). */
export interface PasswordCheckLimiters {
  readonly perUser: Limiter;
  readonly perIp: Limiter;
}

/**
 * The account endpoints of the client-server API that concern 3PIDs
 * (`/account/3pid`, `/add`, `/delete`, `/unbind`), over the module's own
 * 3PID directory. Adding needs the user's password again (a stolen access
 * token must not be enough to attach an address that can then reset the
 * password), through a one-stage UIA the module runs itself. Each password
 * check spends a token per user and per IP first: the homeserver's own login
 * limits would otherwise be the only ones, and they count the module as one
 * client.
 */
export class AccountService {
  private readonly uia: StatelessUiaSessions;

  constructor(
    private readonly deps: {
      store: Storage;
      service: ThreepidService;
      authority: UserAuthority;
      clock: Clock;
      uiaSessions: StatelessUiaSessions;
      requirePassword: boolean;
      passwordChecks: PasswordCheckLimiters;
      /** Synapse's `enable_3pid_changes`: off, and addresses are neither added nor deleted. */
      threepidChanges: boolean;
    },
  ) {
    this.uia = deps.uiaSessions;
  }

  /** The user behind an access token, or `M_UNKNOWN_TOKEN`. */
  async authenticate(accessToken: string | undefined, origin?: RequestOrigin): Promise<string> {
    if (!accessToken) throw new ThreepidError('M_MISSING_TOKEN', 'An access token is required');
    const userId = await askHomeserver(() => this.deps.authority.userIdForAccessToken(accessToken, origin?.clientIp));
    if (!userId) throw new ThreepidError('M_UNKNOWN_TOKEN', 'Unknown access token');
    return userId;
  }

  async list(userId: string): Promise<BindingRecord[]> {
    return this.deps.store.bindings.listForUser(userId);
  }

  /** `POST /account/3pid/add`: UIA, then the validated session's address becomes the user's. */
  async add(userId: string, input: unknown, origin: RequestOrigin): Promise<void> {
    if (!this.deps.threepidChanges) throw threepidChangesDisabled();
    const body = requireObject(input);
    if (this.deps.requirePassword) await this.requirePassword(userId, body.auth, origin);
    requireFields(body, ['sid', 'client_secret']);
    const sid = opaqueIdField(body, 'sid');
    const clientSecret = opaqueIdField(body, 'client_secret');
    // A session an identity server runs (proxy mode) can only be proven by
    // asking it, with the user's token for it: the spec's body has no room
    // for either, so a client that requested one names them beside the sid.
    const creds = { idServer: optionalStringField(body, 'id_server'), idAccessToken: optionalAccessTokenField(body, 'id_access_token') };
    // Check before spending the session, so a refusal leaves it usable.
    const proof = await this.proveSession(sid, clientSecret, creds, 'validated');
    const owner = await this.deps.store.bindings.find(proof.medium, proof.address);
    if (owner && owner.userId !== userId) throw new ThreepidError('M_THREEPID_IN_USE', 'This address is already in use');
    await this.proveSession(sid, clientSecret, creds, 'consume');
    await this.deps.store.bindings.put({
      medium: proof.medium,
      address: proof.address,
      userId,
      validatedAt: proof.validatedAt,
      addedAt: this.deps.clock.now(),
    });
  }

  /** `POST /account/3pid/delete` and `/unbind`: the module binds nothing at identity servers. */
  async delete(userId: string, input: unknown): Promise<void> {
    if (!this.deps.threepidChanges) throw threepidChangesDisabled();
    const { medium, address } = this.parseThreepid(input);
    await this.deps.store.bindings.deleteForUser(userId, medium, address);
  }

  parseThreepid(input: unknown): { medium: Medium; address: string } {
    const body = requireObject(input);
    requireFields(body, ['medium', 'address']);
    const medium = parseMedium(body.medium);
    return { medium, address: canonicalAddress(medium, stringField(body, 'address')) };
  }

  private async proveSession(sid: string, clientSecret: string, creds: IdentityCredentials, how: 'validated' | 'consume') {
    try {
      return how === 'validated'
        ? await this.deps.service.getValidated(sid, clientSecret, creds)
        : await this.deps.service.consume(sid, clientSecret, '3pid', creds);
    } catch (err) {
      if (isThreepidError(err) && ['M_NO_VALID_SESSION', 'M_SESSION_NOT_VALIDATED', 'M_SESSION_EXPIRED'].includes(err.errcode)) {
        throw new ThreepidError('M_THREEPID_AUTH_FAILED', `The 3PID session does not prove the address: ${err.message}`);
      }
      throw err;
    }
  }

  private async requirePassword(userId: string, authInput: unknown, origin: RequestOrigin): Promise<void> {
    const challenge = (extra: Record<string, unknown> = {}) =>
      new UiaRequired({ flows: [{ stages: [PASSWORD_STAGE] }], params: {}, session: this.uia.start(userId), ...extra });
    if (authInput === undefined || authInput === null) throw challenge();
    const auth = requireObject(authInput);
    if (!this.uia.isValid(userId, auth.session)) throw challenge();
    if (auth.type !== PASSWORD_STAGE || typeof auth.password !== 'string') {
      throw challenge({ errcode: 'M_FORBIDDEN', error: 'This server needs your password' });
    }
    const identifier = auth.identifier as { type?: unknown; user?: unknown } | undefined;
    const named = identifier?.type === 'm.id.user' ? identifier.user : auth.user;
    if (named !== undefined && named !== userId && !(typeof named === 'string' && userId.startsWith(`@${named}:`))) {
      throw challenge({ errcode: 'M_FORBIDDEN', error: 'You can only authenticate as yourself' });
    }
    const password = auth.password;
    // Before the password leaves the module: a refused guess costs the homeserver nothing.
    await this.deps.passwordChecks.perIp.take(origin.rateLimitKey);
    await this.deps.passwordChecks.perUser.take(userId);
    if (!(await askHomeserver(() => this.deps.authority.checkPassword(userId, password, origin.clientIp)))) {
      throw challenge({ errcode: 'M_FORBIDDEN', error: 'Invalid password' });
    }
  }
}

/**
 * A homeserver that cannot be asked fails the request (500 `M_UNKNOWN`), with
 * its reason; one that asks to be left alone for a while is relayed as
 * `M_LIMIT_EXCEEDED`, with its wait when it gave one.
 */
async function askHomeserver<T>(question: () => Promise<T>): Promise<T> {
  try {
    return await question();
  } catch (err) {
    if (err instanceof HomeserverRateLimited) {
      throw new ThreepidError('M_LIMIT_EXCEEDED', 'Too many requests', err.retryAfterMs === undefined ? {} : { retry_after_ms: err.retryAfterMs });
    }
    if (err instanceof HomeserverUnavailable) throw new ThreepidError('M_UNKNOWN', err.message);
    throw err;
  }
}
