import express, { Router, type Request, type Response } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Templates } from '../delivery/templates';
import type { Flow, Medium } from '../store/sessions';
import { ThreepidError } from '../threepid/errors';
import { FLOW_NAMES } from '../threepid/flows';
import { nextLinkWithSid } from '../threepid/next-link';
import { EMAIL_VALIDATE_PATH, submitTokenPath } from '../threepid/paths';
import { parseSubmitTokenRequest } from '../threepid/request-body';
import type { ThreepidService } from '../threepid/service';
import { clientIpResolver, rateLimitKey } from './client-ip';
import { ERRCODE_STATUS, errorMiddleware, methodNotAllowed } from './errors';
import { jsonBody, MAX_BODY_BYTES } from './json-body';
import type { VersionsSource } from './versions';

/** Where each flow's requestToken endpoints live in the client-server API. */
const FLOW_PATHS: Readonly<Record<Flow, string>> = {
  register: 'register',
  password: 'account/password',
  '3pid': 'account/3pid',
};
const MEDIUMS: readonly Medium[] = ['email', 'msisdn'];
const API_VERSIONS = ['r0', 'v3'] as const;

/** Headers for the pages a person opens: the URL carries a token. */
function setPageHeaders(res: Response): void {
  res.set({
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
}

export interface ClientRouterOptions {
  readonly config: Config;
  readonly service: ThreepidService;
  readonly templates: Templates;
  readonly logger: Logger;
  /** When set, the router also answers `GET /_matrix/client/versions` (the sidecar). */
  readonly versions?: VersionsSource;
}

/**
 * The public routes: the six requestToken endpoints (under r0 and v3), the
 * `submit_url`, the page an emailed link opens, and optionally `/versions`.
 */
export function createClientRouter(options: ClientRouterOptions): Router {
  const { config, service, templates } = options;
  const clientIp = clientIpResolver(config.trustedProxies);
  const router = Router();

  for (const version of API_VERSIONS) {
    for (const flow of FLOW_NAMES) {
      for (const medium of MEDIUMS) {
        router
          .route(`/_matrix/client/${version}/${FLOW_PATHS[flow]}/${medium}/requestToken`)
          .post(jsonBody, async (req: Request, res: Response) => {
            const result = await service.requestToken(flow, medium, req.body, { clientIp: rateLimitKey(clientIp(req)) });
            res.json({
              sid: result.sid,
              ...(result.submitUrl === undefined ? {} : { submit_url: result.submitUrl }),
              ...result.responseFields,
            });
          })
          .all(methodNotAllowed);
      }
    }
  }

  for (const medium of MEDIUMS) {
    router
      .route(submitTokenPath(medium))
      .post(jsonBody, async (req: Request, res: Response) => {
        await service.submitToken(parseSubmitTokenRequest(req.body), medium);
        res.json({ success: true });
      })
      .all(methodNotAllowed);
  }

  const page = (res: Response, status: number, name: string, view: Record<string, unknown> = {}) => {
    setPageHeaders(res);
    res.status(status).send(templates.render(`pages/${name}.html`, { app_name: config.email.appName, ...view }));
  };
  const failurePage = (res: Response, err: unknown) => {
    if (!(err instanceof ThreepidError)) throw err;
    page(res, ERRCODE_STATUS[err.errcode] >= 500 ? 500 : ERRCODE_STATUS[err.errcode], 'failure', {
      message: err.errcode === 'M_SESSION_EXPIRED' ? 'This link has expired.' : err.message,
    });
  };

  // A GET only shows a button: mail scanners that fetch every link must not
  // validate the session. The form POSTs the token back here.
  router
    .route(EMAIL_VALIDATE_PATH)
    .get((req: Request, res: Response) => {
      const { sid, client_secret: clientSecret, token } = req.query;
      if (typeof sid !== 'string' || typeof clientSecret !== 'string' || typeof token !== 'string') {
        return page(res, 400, 'failure', { message: 'This link is incomplete.' });
      }
      page(res, 200, 'confirm', { action: EMAIL_VALIDATE_PATH, sid, client_secret: clientSecret, token });
    })
    .post(express.urlencoded({ extended: false, limit: MAX_BODY_BYTES }), async (req: Request, res: Response) => {
      try {
        const { nextLink } = await service.submitToken(parseSubmitTokenRequest(req.body ?? {}), 'email');
        if (nextLink) return res.redirect(302, nextLinkWithSid(nextLink, req.body.sid));
        page(res, 200, 'success');
      } catch (err) {
        failurePage(res, err);
      }
    })
    .all(methodNotAllowed);

  if (options.versions) {
    const versions = options.versions;
    router
      .route('/_matrix/client/versions')
      .get(async (_req: Request, res: Response) => {
        res.json(await versions.get());
      })
      .all(methodNotAllowed);
  }

  // Errors raised by these routes become Matrix errors here, whoever mounts the router.
  router.use(errorMiddleware(options.logger));
  return router;
}
