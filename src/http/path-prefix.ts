import { Router, type Request } from 'express';

/** The configured prefix a request was routed under, by request. */
const routedUnder = new WeakMap<Request, string>();

/**
 * The configured prefix (`/matrix`) under which the request reached its
 * route, or `''`. Express matches a mount path case-insensitively and
 * `req.baseUrl` keeps the request's own casing (`/MaTrIx`), so anything
 * that names routes (logs, metrics labels) reads the prefix from here.
 */
export function configuredPrefixOf(req: Request): string {
  return routedUnder.get(req) ?? '';
}

/**
 * Serves `router` at the root and also under `prefix` (the path of
 * `public_baseurl`, e.g. `/matrix`): a reverse proxy that strips the prefix
 * and one that passes it on both reach the same routes. No prefix: the
 * router itself.
 */
export function servedAlsoUnder(prefix: string, router: Router): Router {
  if (!prefix) return router;
  const both = Router();
  both.use(
    prefix,
    (req, _res, next) => {
      routedUnder.set(req, prefix);
      next();
    },
    router,
    // No route under the prefix: the request goes on, as it came, to the root.
    (req, _res, next) => {
      routedUnder.delete(req);
      next();
    },
  );
  both.use(router);
  return both;
}
