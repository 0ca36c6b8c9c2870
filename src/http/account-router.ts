import { Router, type Request, type Response } from 'express';
import type { Logger } from '../logger';
import type { AccountService, RequestOrigin } from '../threepid/accounts';
import { clientIpResolver, rateLimitKey } from './client-ip';
import { errorMiddleware, methodNotAllowed } from './errors';
import { jsonBody } from './json-body';

function accessToken(req: Request): string | undefined {
  const match = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/**
 * `GET /account/3pid`, `POST /account/3pid/add`, `/delete` and `/unbind`
 * (r0 and v3), for a homeserver that keeps no 3PIDs itself. The client's IP
 * is found as for requestToken: `X-Forwarded-For` only from `trustedProxies`.
 */
export function createAccountRouter(accounts: AccountService, logger: Logger, trustedProxies: readonly string[] = []): Router {
  const router = Router();
  const clientIp = clientIpResolver(trustedProxies);
  const origin = (req: Request): RequestOrigin => {
    const ip = clientIp(req);
    return { clientIp: ip, rateLimitKey: rateLimitKey(ip) };
  };
  const user = (req: Request) => accounts.authenticate(accessToken(req), origin(req));

  for (const version of ['r0', 'v3']) {
    const base = `/_matrix/client/${version}/account/3pid`;
    router
      .route(base)
      .get(async (req: Request, res: Response) => {
        const bindings = await accounts.list(await user(req));
        res.json({
          threepids: bindings.map((b) => ({ medium: b.medium, address: b.address, validated_at: b.validatedAt, added_at: b.addedAt })),
        });
      })
      .all(methodNotAllowed);
    router
      .route(`${base}/add`)
      .post(jsonBody, async (req: Request, res: Response) => {
        const from = origin(req);
        await accounts.add(await accounts.authenticate(accessToken(req), from), req.body, from);
        res.json({});
      })
      .all(methodNotAllowed);
    router
      .route(`${base}/delete`)
      .post(jsonBody, async (req: Request, res: Response) => {
        await accounts.delete(await user(req), req.body);
        // The module binds nothing at identity servers, so there is nothing to unbind there.
        res.json({ id_server_unbind_result: 'no-support' });
      })
      .all(methodNotAllowed);
    router
      .route(`${base}/unbind`)
      .post(jsonBody, async (req: Request, res: Response) => {
        await user(req);
        accounts.parseThreepid(req.body);
        res.json({ id_server_unbind_result: 'no-support' });
      })
      .all(methodNotAllowed);
  }

  router.use(errorMiddleware(logger));
  return router;
}
