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
  const readiness = () => checkReadiness(pendingMigrations, writeProblem);
  metrics.reportReadiness(async () => (await readiness()).status === 200);
  router
    .route('/ready')
    .get(async (_req: Request, res: Response) => {
      const { status, body, err } = await readiness();
      if (err) logger.warn({ err: err.message }, 'readiness check failed');
      res.status(status).json(body);
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

/** What `/ready` answers, and what `threepid_ready` reports. */
async function checkReadiness(
  pendingMigrations: PendingMigrations,
  writeProblem: WriteProblem,
): Promise<{ status: 200 | 503; body: object; err?: Error }> {
  // A full disk still answers reads: the writes that failed say it.
  const problem = writeProblem();
  if (problem) return { status: 503, body: { status: 'database cannot write', reason: problem } };
  try {
    const pending = await pendingMigrations();
    if (pending.length > 0) return { status: 503, body: { status: 'migrations pending', pending } };
    return { status: 200, body: { status: 'ready' } };
  } catch (err) {
    const body = { status: 'database unavailable', ...(err instanceof StoreUnavailable && { reason: err.detail }) };
    return { status: 503, body, err: err as Error };
  }
}
