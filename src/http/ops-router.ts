import { Router, type Request, type Response } from 'express';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import { StoreUnavailable } from '../model';
import { methodNotAllowed } from './errors';

/**
 * The operator's endpoints, for the internal listener only: `/health`
 * (the process answers), `/ready` (the database answers, writes succeed,
 * and every migration is applied) and `/metrics` (Prometheus text format).
 */
/**
 * Whether the database answers (rejects when not) and which migrations are
 * not applied yet: what `/ready` reports. The store provides it.
 */
export type PendingMigrations = () => Promise<readonly string[]>;

/** Why the database cannot write lately (a full disk, an I/O error), or undefined. */
export type WriteProblem = () => string | undefined;

export function createOpsRouter(pendingMigrations: PendingMigrations, metrics: Metrics, logger: Logger, writeProblem: WriteProblem = () => undefined): Router {
  const router = Router();
  router.route('/health').get((_req: Request, res: Response) => void res.json({ status: 'ok' })).all(methodNotAllowed);
  router
    .route('/ready')
    .get(async (_req: Request, res: Response) => {
      // A full disk still answers reads: the writes that failed say it.
      const problem = writeProblem();
      if (problem) return void res.status(503).json({ status: 'database cannot write', reason: problem });
      try {
        const pending = await pendingMigrations();
        if (pending.length > 0) return void res.status(503).json({ status: 'migrations pending', pending });
        res.json({ status: 'ready' });
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'readiness check failed');
        res.status(503).json({ status: 'database unavailable', ...(err instanceof StoreUnavailable && { reason: err.detail }) });
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
