import { Router, type Request, type RequestHandler, type Response } from 'express';
import jwt from 'jsonwebtoken';
import type { BindingService } from '../threepid/bindings';
import { parseMedium } from '../threepid/bindings';
import { ThreepidError } from '../threepid/errors';
import { isFlow } from '../threepid/flows';
import { opaqueIdField, optionalAccessTokenField, optionalStringField, requireFields, requireObject } from '../threepid/request-body';
import type { ThreepidService, ValidatedThreepid } from '../threepid/service';
import { errorMiddleware, methodNotAllowed } from './errors';
import type { Logger } from '../logger';
import { jsonBody } from './json-body';

export const INTERNAL_PREFIX = '/_threepid/v1';

export interface InternalAuth {
  readonly sharedSecret: string;
  /** When set, the token's `aud` must match. */
  readonly audience?: string;
  /** How far ahead `exp` may be (the homeserver signs one short-lived token per call). Default: 5 minutes. */
  readonly maxLifetimeMs?: number;
}

/** `exp` may be this far ahead when no maximum is configured. */
export const DEFAULT_JWT_MAX_LIFETIME_MS = 5 * 60_000;

/**
 * `Authorization: Bearer <JWT>`, HS256 with the shared secret, `exp`
 * required: a whole number of seconds, at most `maxLifetimeMs` ahead, so a
 * leaked token is soon worthless (jsonwebtoken alone takes `exp: 1e999`,
 * which JSON reads as Infinity, and any date in the far future). Any failure
 * is the same `401 M_UNAUTHORIZED`: the caller learns nothing about which
 * check failed.
 */
export function requireInternalAuth(auth: InternalAuth): RequestHandler {
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
    try {
      if (!match) throw new Error('no bearer token');
      const claims = jwt.verify(match[1], auth.sharedSecret, {
        algorithms: ['HS256'],
        audience: auth.audience,
      }) as jwt.JwtPayload;
      if (typeof claims.exp !== 'number' || !Number.isSafeInteger(claims.exp)) throw new Error('exp is not a whole number');
      if (claims.exp * 1000 > Date.now() + (auth.maxLifetimeMs ?? DEFAULT_JWT_MAX_LIFETIME_MS)) throw new Error('exp too far ahead');
    } catch {
      return next(new ThreepidError('M_UNAUTHORIZED', 'A valid internal API token is required'));
    }
    next();
  };
}

/** The outbox for the operator: messages waiting, the age of the oldest, and those given up on in the last hour. */
export interface OutboxView {
  readonly pending: number;
  readonly oldestPendingAgeMs: number | null;
  readonly failedLastHour: number;
}

function validatedBody(proof: ValidatedThreepid) {
  return { medium: proof.medium, address: proof.address, validated_at: proof.validatedAt };
}

/**
 * The homeserver's side, for the sidecar: what a session proves, spending
 * it, and the 3PID directory. Served on the internal listener only.
 */
export function createInternalRouter(
  service: ThreepidService,
  bindings: BindingService,
  auth: InternalAuth,
  logger: Logger,
  outboxView: () => Promise<OutboxView>,
): Router {
  const router = Router();
  router.use(INTERNAL_PREFIX, requireInternalAuth(auth));

  const sessionCredentials = (input: unknown, extra: string[] = []) => {
    const body = requireObject(input);
    requireFields(body, ['sid', 'client_secret', ...extra]);
    return {
      body,
      sid: opaqueIdField(body, 'sid'),
      clientSecret: opaqueIdField(body, 'client_secret'),
      // Sessions an identity server runs are checked with it, with the user's token.
      creds: { idServer: optionalStringField(body, 'id_server'), idAccessToken: optionalAccessTokenField(body, 'id_access_token') },
    };
  };

  router
    .route(`${INTERNAL_PREFIX}/sessions/validated`)
    .post(jsonBody, async (req: Request, res: Response) => {
      const { sid, clientSecret, creds } = sessionCredentials(req.body);
      res.json(validatedBody(await service.getValidated(sid, clientSecret, creds)));
    })
    .all(methodNotAllowed);

  router
    .route(`${INTERNAL_PREFIX}/sessions/consume`)
    .post(jsonBody, async (req: Request, res: Response) => {
      const { body, sid, clientSecret, creds } = sessionCredentials(req.body, ['flow']);
      if (!isFlow(body.flow)) throw new ThreepidError('M_INVALID_PARAM', 'flow must be register, password or 3pid');
      res.json(validatedBody(await service.consume(sid, clientSecret, body.flow, creds)));
    })
    .all(methodNotAllowed);

  router
    .route(`${INTERNAL_PREFIX}/uia/threepid`)
    .post(jsonBody, async (req: Request, res: Response) => {
      const body = requireObject(req.body);
      requireFields(body, ['auth', 'flow']);
      if (!isFlow(body.flow)) throw new ThreepidError('M_INVALID_PARAM', 'flow must be register, password or 3pid');
      res.json(validatedBody(await service.checkThreepidAuth(body.auth, body.flow, body.consume === true)));
    })
    .all(methodNotAllowed);

  router
    .route(`${INTERNAL_PREFIX}/bindings/:medium/:address`)
    .get(async (req: Request, res: Response) => {
      const binding = await bindings.get(parseMedium(req.params.medium), String(req.params.address));
      res.json({ user_id: binding.userId, validated_at: binding.validatedAt, added_at: binding.addedAt });
    })
    .put(jsonBody, async (req: Request, res: Response) => {
      const body = requireObject(req.body);
      requireFields(body, ['user_id']);
      const binding = await bindings.put(
        parseMedium(req.params.medium),
        String(req.params.address),
        body.user_id,
        body.validated_at,
      );
      res.json({ user_id: binding.userId, validated_at: binding.validatedAt, added_at: binding.addedAt });
    })
    .delete(async (req: Request, res: Response) => {
      await bindings.delete(parseMedium(req.params.medium), String(req.params.address));
      res.json({});
    })
    .all(methodNotAllowed);

  router
    .route(`${INTERNAL_PREFIX}/outbox/stats`)
    .get(async (_req: Request, res: Response) => {
      const view = await outboxView();
      res.json({ pending: view.pending, oldest_pending_age_ms: view.oldestPendingAgeMs, failed_last_hour: view.failedLastHour });
    })
    .all(methodNotAllowed);

  router.use(errorMiddleware(logger));
  return router;
}
