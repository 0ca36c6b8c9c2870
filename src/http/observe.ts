import type { Request, RequestHandler } from 'express';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import { configuredPrefixOf } from './path-prefix';

/**
 * The route template a request matched (`/_threepid/v1/bindings/:medium/:address`),
 * under the configured prefix it was routed through, or `unmatched`: what
 * logs and metrics name a request by. Only strings fixed when the routers
 * were built, never a part of the request: binding paths carry an address,
 * the link page's query a token, and `req.baseUrl` the request's casing of
 * the prefix (each casing would be a metrics series of its own).
 */
export function routeTemplate(req: Request): string {
  const path: unknown = req.route?.path;
  return typeof path === 'string' ? `${configuredPrefixOf(req)}${path}` : 'unmatched';
}

/** Liveness and readiness probes: asked every few seconds, they would drown the log at info. */
const PROBE_ROUTES = new Set(['/health', '/ready']);

/**
 * One log line and one metric sample per request (probes at debug). Only the route template
 * is recorded, never the path or query: the link page carries the token in
 * its query, and binding paths carry an address.
 */
export function observeRequests(logger: Logger, metrics?: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplate(req);
      metrics?.request(route, req.method, res.statusCode, seconds);
      const fields = { method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 };
      if (PROBE_ROUTES.has(route)) logger.debug(fields, 'request');
      else logger.info(fields, 'request');
    });
    next();
  };
}
