import { Router, type Request, type Response } from 'express';
import { sql } from 'kysely';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import { migrationCheck } from '../store/migrations';
import type { Store } from '../store/store';
import { methodNotAllowed } from './errors';

/**
 * The operator's endpoints, for the internal listener only: `/health`
 * (the process answers), `/ready` (the database answers and every migration
 * is applied) and `/metrics` (Prometheus text format).
 */
export function createOpsRouter(store: Store, metrics: Metrics, logger: Logger): Router {
  const router = Router();
  const pendingMigrations = migrationCheck(store.db, store.engine);
  router.route('/health').get((_req: Request, res: Response) => void res.json({ status: 'ok' })).all(methodNotAllowed);
  router
    .route('/ready')
    .get(async (_req: Request, res: Response) => {
      try {
        await sql`SELECT 1`.execute(store.db);
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
