import { Router, type Request, type Response } from 'express';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import { methodNotAllowed } from './errors';

/**
 * The operator's endpoints, for the internal listener only: `/health`
 * (the process answers), `/ready` (the database answers and every migration
 * is applied) and `/metrics` (Prometheus text format).
 */
/**
 * Whether the database answers (rejects when not) and which migrations are
 * not applied yet: what `/ready` reports. The store provides it.
 */
export type PendingMigrations = () => Promise<readonly string[]>;

export function createOpsRouter(pendingMigrations: PendingMigrations, metrics: Metrics, logger: Logger): Router {
  const router = Router();
  router.route('/health').get((_req: Request, res: Response) => void res.json({ status: 'ok' })).all(methodNotAllowed);
  router
    .route('/ready')
    .get(async (_req: Request, res: Response) => {
      try {
        const pending = await pendingMigrations();
        if (pending.length > 0) return void res.status(503).json({ status: 'migrations pending', pending });
        res.json({ status: 'ready' });
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'readiness check failed');
        res.status(503).json({ status: 'database unavailable' });
      }
    })
    .all(methodNotAllowed);
  router
    .route('/metrics')
    .get(async (_req: Request, res: Response) => {
      res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
    })
    .all(methodNotAllowed);
  return router;
}
