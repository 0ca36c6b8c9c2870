import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import { observeRequests } from './observe';
import { errorMiddleware, notFound } from './errors';
import { ThreepidError } from '../threepid/errors';
import { checkLogger } from '../threepid/public-arguments';

/**
 * A standalone Express app around the module's routers (or middleware such
 * as `clientServerCors`, in order): no `X-Powered-By`, unknown paths
 * `404 M_UNRECOGNIZED`, and the module's error middleware.
 */
export function createApp(routers: RequestHandler | ReadonlyArray<RequestHandler | undefined>, logger: Logger, metrics?: Metrics): Express {
  const given: unknown[] = Array.isArray(routers) ? routers : [routers];
  if (given.some((router) => router !== undefined && typeof router !== 'function')) {
    throw new ThreepidError('M_INVALID_PARAM', 'routers must be a router (or middleware) or a list of them');
  }
  checkLogger(logger);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(observeRequests(logger, metrics));
  for (const router of Array.isArray(routers) ? routers : [routers]) if (router) app.use(router);
  app.use(notFound);
  app.use(errorMiddleware(logger));
  return app;
}
