import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { IdentityServerError, StoreUnavailable, type UnavailableReason } from '../model';
import type { Logger } from '../logger';
import { ThreepidError, type Errcode } from '../threepid/errors';
import { routeTemplate } from './observe';
import { UiaRequired } from '../threepid/uia';
import { checkLogger } from '../threepid/public-arguments';

/** The one errcode → HTTP status table. A code without a status does not compile. */
export const ERRCODE_STATUS: Readonly<Record<Errcode, number>> = Object.freeze({
  M_NOT_JSON: 400,
  M_BAD_JSON: 400,
  M_MISSING_PARAM: 400,
  M_INVALID_PARAM: 400,
  M_TOO_LARGE: 413,
  M_UNRECOGNIZED: 404,
  M_NOT_FOUND: 404,
  M_LIMIT_EXCEEDED: 429,
  M_THREEPID_IN_USE: 400,
  M_THREEPID_NOT_FOUND: 400,
  M_THREEPID_DENIED: 403,
  M_THREEPID_MEDIUM_NOT_SUPPORTED: 400,
  M_SERVER_NOT_TRUSTED: 400,
  M_TOKEN_INCORRECT: 400,
  M_SESSION_EXPIRED: 400,
  M_SESSION_NOT_VALIDATED: 400,
  M_NO_VALID_SESSION: 404,
  M_UNAUTHORIZED: 401,
  M_UNKNOWN_TOKEN: 401,
  M_MISSING_TOKEN: 401,
  M_THREEPID_AUTH_FAILED: 403,
  M_FORBIDDEN: 403,
  M_TERMS_NOT_SIGNED: 403,
  M_UNKNOWN: 500,
});

/**
 * A database that cannot serve is not the request's fault: `503 M_UNKNOWN`,
 * with a `Retry-After` (seconds) by how soon it may pass.
 */
export const UNAVAILABLE_STATUS = 503;
export const UNAVAILABLE_RETRY_AFTER_S: Readonly<Record<UnavailableReason, number>> = Object.freeze({
  busy: 1,
  timeout: 5,
  unreachable: 5,
  full: 30,
});

/** A Matrix error's HTTP status: its own where it names one, else its errcode's. */
export function statusOf(err: ThreepidError): number {
  return err.status ?? ERRCODE_STATUS[err.errcode];
}

export function sendMatrixError(res: Response, status: number, errcode: Errcode, error: string, extra = {}): void {
  res.status(status).json({ errcode, error, ...extra });
}

/** 405 for a known path with the wrong method (the spec's `M_UNRECOGNIZED`). */
export const methodNotAllowed: RequestHandler = (_req, res) => {
  sendMatrixError(res, 405, 'M_UNRECOGNIZED', 'Method not allowed on this endpoint');
};

export const notFound: RequestHandler = (_req, res) => {
  sendMatrixError(res, 404, 'M_UNRECOGNIZED', 'Unrecognized request');
};

/** body-parser's failures, by their `type`. */
function parserError(err: { type?: string; status?: number }): [number, Errcode, string] | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return [400, 'M_NOT_JSON', 'The request body is not valid JSON'];
    case 'entity.too.large':
      return [413, 'M_TOO_LARGE', 'The request body is too large'];
    // A form body of more fields than the parser takes (1000).
    case 'parameters.too.many':
    case 'querystring.parse.rangeError':
      return [413, 'M_TOO_LARGE', 'The request body has too many fields'];
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return [400, 'M_NOT_JSON', 'The request body must be UTF-8 JSON'];
    case 'request.aborted':
      return [400, 'M_UNKNOWN', 'The request was aborted'];
    default:
      // A body that does not decompress as its Content-Encoding says: zlib's
      // error, which body-parser passes on with status 400 and no `type`.
      if (err.type === undefined && err.status === 400 && !(err instanceof URIError)) {
        return [400, 'M_NOT_JSON', 'The request body could not be decoded'];
      }
      // A path parameter that is not valid %-encoding (Express raises a URIError with status 400).
      if (err instanceof URIError && err.status === 400) return [400, 'M_INVALID_PARAM', 'The request path is malformed'];
      return undefined;
  }
}

/**
 * The only error middleware. Matrix errors become `{errcode, error}` with
 * their status; anything else is logged and answered `500 M_UNKNOWN` with no
 * detail (never a stack trace).
 */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  checkLogger(logger);
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof IdentityServerError) {
      // The identity server's own Matrix error (or our 502/504 about it), as it is.
      logger.info({ status: err.status, errcode: err.body.errcode, route: routeTemplate(req) }, 'identity server refused or failed');
      return void res.status(err.status).json(err.body);
    }
    if (err instanceof UiaRequired) return void res.status(401).json(err.body);
    if (err instanceof ThreepidError) {
      logger.debug({ errcode: err.errcode, route: routeTemplate(req) }, 'request refused');
      return sendMatrixError(res, statusOf(err), err.errcode, err.message, err.extra);
    }
    if (err instanceof StoreUnavailable) {
      // The driver's code and message (SQLITE_FULL, 57P01…): what the operator must see.
      logger.warn({ reason: err.reason, cause: err.detail, route: routeTemplate(req) }, 'database unavailable');
      res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S[err.reason]));
      return sendMatrixError(res, UNAVAILABLE_STATUS, 'M_UNKNOWN', 'The database is unavailable; try again later');
    }
    const parsed = parserError(err as { type?: string });
    if (parsed) return sendMatrixError(res, parsed[0], parsed[1], parsed[2]);
    logger.error({ err: (err as Error)?.message, route: routeTemplate(req) }, 'unexpected error');
    sendMatrixError(res, 500, 'M_UNKNOWN', 'Internal server error');
  };
}
