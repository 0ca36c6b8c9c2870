import { Router } from 'express';

/**
 * Serves `router` at the root and also under `prefix` (the path of
 * `public_baseurl`, e.g. `/matrix`): a reverse proxy that strips the prefix
 * and one that passes it on both reach the same routes. No prefix: the
 * router itself.
 */
export function servedAlsoUnder(prefix: string, router: Router): Router {
  if (!prefix) return router;
  const both = Router();
  both.use(prefix, router);
  both.use(router);
  return both;
}
