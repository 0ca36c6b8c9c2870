import express, { type Express, type Router } from 'express';
import type { Logger } from '../logger';
import { errorMiddleware, notFound } from './errors';

/**
 * A standalone Express app around one router: no `X-Powered-By`, unknown
 * paths `404 M_UNRECOGNIZED`, and the module's error middleware.
 */
export function createApp(router: Router, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(router);
  app.use(notFound);
  app.use(errorMiddleware(logger));
  return app;
}
