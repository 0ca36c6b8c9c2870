import { randomBytes } from 'node:crypto';
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { defaultPushRules } from './push-rules';
import type { Device, Users } from './users';

export type Medium = 'email' | 'msisdn';

/** What a validated 3PID session proves. */
export interface ThreepidProof {
  readonly medium: Medium;
  readonly address: string;
  readonly validatedAt: number;
}

/**
 * Everything this homeserver needs from matrix-hs-threepid. `host.ts`
 * implements it by embedding the module, `sidecar-host.ts` by calling the
 * sidecar's internal API. Failures are thrown as {@link MatrixError}.
 */
export interface ThreepidBackend {
  /**
   * One `m.login.email.identity` / `m.login.msisdn` UIA stage: the 3PID
   * `auth` proves (with `uia.consume`, the session is spent for `uia.flow`,
   * once), or a `401` {@link MatrixError} whose extra fields are the UIA body.
   */
  threepidStage(auth: unknown, uia: UiaStage): Promise<ThreepidProof>;
  /** Who owns an address (any spelling: it is canonicalised), or null. */
  ownerOf(medium: Medium, address: string): Promise<string | null>;
  /** Records that the user owns the address. */
  bind(proof: ThreepidProof, userId: string): Promise<void>;
}

/** What a UIA `401` needs besides the error, and what the stage is for. */
export interface UiaStage {
  readonly flows: ReadonlyArray<{ readonly stages: readonly string[] }>;
  readonly session: string;
  readonly completed: readonly string[];
  readonly flow: 'register' | 'password';
  readonly consume: boolean;
}

/** A Matrix error: `{errcode, error}` with an HTTP status. */
export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The spec versions this example claims in `GET /_matrix/client/versions`. */
export const VERSIONS = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11'];

/** Registration and password reset need a verified email address or phone number. */
const THREEPID_FLOWS = [{ stages: ['m.login.email.identity'] }, { stages: ['m.login.msisdn'] }];
const UIA_SESSION_MS = 30 * 60_000;

function bearer(req: Request): string | undefined {
  return /^Bearer (\S+)$/.exec(req.get('authorization') ?? '')?.[1];
}

/** A long-polling `/sync` waits at most this long (it has nothing to wait for here). */
const MAX_SYNC_WAIT_MS = 30_000;

/**
 * The part of the client-server API this example needs, mounted at
 * `/_matrix/client/v3` (and `r0`): `/register`, `/login`, `/logout`,
 * `/account/password`, `/account/whoami`, `/capabilities`, and the first
 * calls a web client makes once logged in (`/pushrules/`, filters, an
 * empty `/sync`, `/profile`). Anything else is `404 M_UNRECOGNIZED`, which
 * clients take as "not supported here" (e.g. `/voip/turnServer`).
 */
export function createClientApi(users: Users, threepids: ThreepidBackend): Router {
  const router = Router();
  router.use(express.json({ type: () => true }));
  const uiaSessions = new Map<string, number>(); // session ID → expiry
  const filters = new Map<string, unknown[]>(); // user ID → filters; a filter's ID is its index

  function caller(req: Request): Device {
    const token = bearer(req);
    if (token === undefined) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
    const device = users.device(token);
    if (!device) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token');
    return device;
  }

  /**
   * One UIA stage, `m.login.email.identity` or `m.login.msisdn`. Without a
   * valid one the answer is the UIA `401` (with the stage's error, if any).
   */
  async function threepidStage(auth: any, flow: 'register' | 'password', consume: boolean): Promise<ThreepidProof> {
    let session = typeof auth?.session === 'string' ? auth.session : '';
    if ((uiaSessions.get(session) ?? 0) < Date.now()) {
      for (const [id, until] of uiaSessions) if (until < Date.now()) uiaSessions.delete(id);
      session = randomBytes(16).toString('base64url');
      uiaSessions.set(session, Date.now() + UIA_SESSION_MS);
    }
    return threepids.threepidStage(auth, { flows: THREEPID_FLOWS, session, completed: [], flow, consume });
  }

  router.post('/register', async (req: Request, res: Response) => {
    const { username, password, auth, inhibit_login: inhibitLogin } = req.body ?? {};
    const userId = users.userId(typeof username === 'string' ? username : `u${randomBytes(6).toString('hex')}`);
    if (!/^@[a-z0-9._=/+-]+:/.test(userId)) throw new MatrixError(400, 'M_INVALID_USERNAME', 'Invalid username');
    if (users.exists(userId)) throw new MatrixError(400, 'M_USER_IN_USE', 'This username is taken');
    if (password !== undefined && typeof password !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'password must be a string');

    // Check the stage without spending it, then refuse what can still be refused.
    const proof = await threepidStage(auth, 'register', false);
    if (!password) throw new MatrixError(400, 'M_MISSING_PARAM', 'A password is required');
    if (await threepids.ownerOf(proof.medium, proof.address)) {
      throw new MatrixError(400, 'M_THREEPID_IN_USE', 'This address is already in use');
    }
    await threepidStage(auth, 'register', true);
    users.create(userId, password);
    await threepids.bind(proof, userId);
    if (inhibitLogin === true) return void res.json({ user_id: userId });
    res.json({ user_id: userId, home_server: users.serverName, ...users.login(userId, req.body.device_id) });
  });

  router.get('/login', (_req: Request, res: Response) => {
    res.json({ flows: [{ type: 'm.login.password' }] });
  });

  router.post('/login', async (req: Request, res: Response) => {
    const body = req.body ?? {};
    if (body.type !== 'm.login.password') throw new MatrixError(400, 'M_UNKNOWN', 'Only m.login.password is supported');
    // identifier m.id.user, m.id.thirdparty (the 3PID directory), or the deprecated top-level fields.
    const id = body.identifier ?? (body.medium ? { type: 'm.id.thirdparty', ...body } : { type: 'm.id.user', user: body.user });
    let userId: string | null = null;
    if (id.type === 'm.id.user' && typeof id.user === 'string') userId = users.userId(id.user);
    if (id.type === 'm.id.thirdparty' && (id.medium === 'email' || id.medium === 'msisdn') && typeof id.address === 'string') {
      userId = await threepids.ownerOf(id.medium, id.address);
    }
    if (!userId || typeof body.password !== 'string' || !users.checkPassword(userId, body.password)) {
      throw new MatrixError(403, 'M_FORBIDDEN', 'Invalid username or password');
    }
    res.json({ user_id: userId, home_server: users.serverName, ...users.login(userId, body.device_id) });
  });

  router.post('/logout', (req: Request, res: Response) => {
    const token = bearer(req);
    if (!users.device(token)) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token');
    users.logout(token!);
    res.json({});
  });

  // Password reset: the 3PID stage proves who the user is, so no access token is needed.
  router.post('/account/password', async (req: Request, res: Response) => {
    const { auth, new_password: newPassword, logout_devices: logoutDevices } = req.body ?? {};
    const proof = await threepidStage(auth, 'password', false);
    if (typeof newPassword !== 'string' || !newPassword) throw new MatrixError(400, 'M_MISSING_PARAM', 'new_password is required');
    const userId = await threepids.ownerOf(proof.medium, proof.address);
    if (!userId) throw new MatrixError(400, 'M_THREEPID_NOT_FOUND', 'No account has this address');
    const caller = users.device(bearer(req));
    if (caller && caller.userId !== userId) throw new MatrixError(403, 'M_FORBIDDEN', 'This address is not yours');
    await threepidStage(auth, 'password', true);
    users.setPassword(userId, newPassword);
    if (logoutDevices !== false) users.logoutAll(userId, bearer(req));
    res.json({});
  });

  router.get('/account/whoami', (req: Request, res: Response) => {
    const device = users.device(bearer(req));
    if (!device) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token');
    res.json({ user_id: device.userId, device_id: device.deviceId });
  });

  router.get('/capabilities', (req: Request, res: Response) => {
    caller(req);
    res.json({ capabilities: { 'm.change_password': { enabled: true }, 'm.3pid_changes': { enabled: true } } });
  });

  // What a web client asks right after login. This server keeps no rooms and
  // no per-user settings: the push rules are the spec's defaults, and /sync
  // is always empty.
  router.get('/pushrules/', (req: Request, res: Response) => {
    res.json(defaultPushRules(caller(req).userId));
  });

  /** The caller, who must be the user named in the path. */
  const owner = (req: Request): string => {
    const { userId } = caller(req);
    if (req.params.userId !== userId) throw new MatrixError(403, 'M_FORBIDDEN', 'You can only use your own filters');
    return userId;
  };
  router.post('/user/:userId/filter', (req: Request, res: Response) => {
    const userId = owner(req);
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      throw new MatrixError(400, 'M_BAD_JSON', 'A filter is a JSON object');
    }
    const stored = filters.get(userId) ?? [];
    filters.set(userId, [...stored, req.body]);
    res.json({ filter_id: String(stored.length) });
  });
  router.get('/user/:userId/filter/:filterId', (req: Request, res: Response) => {
    const stored = filters.get(owner(req)) ?? [];
    const filterId = String(req.params.filterId);
    if (!/^\d+$/.test(filterId) || Number(filterId) >= stored.length) throw new MatrixError(404, 'M_NOT_FOUND', 'No such filter');
    res.json(stored[Number(filterId)]);
  });

  router.get('/sync', (req: Request, res: Response) => {
    caller(req);
    const empty = { next_batch: 's0', rooms: { join: {}, invite: {}, leave: {} }, account_data: { events: [] }, presence: { events: [] } };
    // An initial sync answers at once; a long poll waits out its timeout, as
    // a server with nothing new does, so clients do not spin.
    const timeout = Math.min(Math.max(Number(req.query.timeout) || 0, 0), MAX_SYNC_WAIT_MS);
    if (req.query.since === undefined || timeout === 0) return void res.json(empty);
    const timer = setTimeout(() => res.json(empty), timeout);
    res.once('close', () => clearTimeout(timer));
  });

  router.get('/profile/:userId', (req: Request, res: Response) => {
    if (!users.exists(String(req.params.userId))) throw new MatrixError(404, 'M_NOT_FOUND', 'No such user');
    res.json({}); // no display name or avatar set
  });

  return router;
}

/** Unknown paths, and errors as Matrix errors (a UIA `401` carries its flows). */
export const notFound = (_req: Request, res: Response) => {
  res.status(404).json({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
};

export const matrixErrors: ErrorRequestHandler = (err, _req, res, _next) => {
  if (err instanceof MatrixError) {
    const fields = err.errcode ? { errcode: err.errcode, error: err.message } : {};
    return void res.status(err.status).json({ ...fields, ...err.extra });
  }
  if ((err as { type?: string }).type === 'entity.parse.failed') {
    return void res.status(400).json({ errcode: 'M_NOT_JSON', error: 'The body is not JSON' });
  }
  console.error(err);
  res.status(500).json({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
};
