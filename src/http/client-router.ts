import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../logger';
import type { Flow, Medium } from '../model';
import { FLOW_NAMES } from '../threepid/flows';
import { EMAIL_VALIDATE_PATH, submitTokenPath } from '../threepid/paths';
import { parseSubmitTokenRequest } from '../threepid/request-body';
import type { ThreepidService } from '../threepid/service';
import { clientIpResolver, rateLimitKey } from './client-ip';
import { errorMiddleware, methodNotAllowed } from './errors';
import { jsonBody } from './json-body';
import { createLinkPage, formBody, requestLanguageResolver, type PageRenderer } from './link-page';
import type { VersionsSource } from './versions';

/** Where each flow's requestToken endpoints live in the client-server API. */
const FLOW_PATHS: Readonly<Record<Flow, string>> = {
  register: 'register',
  password: 'account/password',
  '3pid': 'account/3pid',
};
const MEDIUMS: readonly Medium[] = ['email', 'msisdn'];
/** v3 first: current clients ask there. */
const API_VERSIONS = ['v3', 'r0'] as const;

export interface ClientRouterOptions {
  readonly config: {
    readonly trustedProxies: readonly string[];
    /** The path part of `public_baseurl` (`/matrix`), or `''`. */
    readonly publicBasePath: string;
  };
  readonly service: ThreepidService;
  readonly pages: PageRenderer;
  readonly logger: Logger;
  /** When set, the router also answers `GET /_matrix/client/versions` (the sidecar). */
  readonly versions?: VersionsSource;
}

/**
 * The public routes: the six requestToken endpoints (under r0 and v3), the
 * `submit_url`, the page an emailed link opens, and optionally `/versions`.
 */
export function createClientRouter(options: ClientRouterOptions): Router {
  const { config, service, pages } = options;
  const clientIp = clientIpResolver(config.trustedProxies);
  const requestLanguage = requestLanguageResolver(pages);
  /** The form posts back to the page's own path, under public_baseurl's path when it has one. */
  const formAction = `${config.publicBasePath}${EMAIL_VALIDATE_PATH}`;
  const router = Router();
  const answerErrors = errorMiddleware(options.logger);
  /** The rate-limit key each requestToken's client IP was checked under. */
  const clientKeys = new WeakMap<Request, string>();
  /**
   * Before the body is read: a client over its per-IP limit costs a bucket
   * lookup, not a body's parsing and checks, and is refused whatever it
   * sends (the refusal names no address, so it tells nothing of one).
   */
  const checkClientLimit: RequestHandler = (req, res, next) => {
    const key = rateLimitKey(clientIp(req));
    clientKeys.set(req, key);
    // A refusal is answered here by the router's own error middleware, not after a walk past every later route.
    const refuse = (err: unknown) => answerErrors(err, req, res, next);
    let checked: void | Promise<void>;
    try {
      checked = service.checkClientLimit(key);
    } catch (err) {
      return refuse(err);
    }
    if (checked instanceof Promise) checked.then(() => next(), refuse);
    else next();
  };

  // Each request is matched against the routes before its own: the busiest come first.
  for (const medium of MEDIUMS) {
    router
      .route(submitTokenPath(medium))
      .post(jsonBody, async (req: Request, res: Response) => {
        await service.submitToken(parseSubmitTokenRequest(req.body), medium);
        res.json({ success: true });
      })
      .all(methodNotAllowed);
  }

  for (const version of API_VERSIONS) {
    for (const flow of FLOW_NAMES) {
      for (const medium of MEDIUMS) {
        router
          .route(`/_matrix/client/${version}/${FLOW_PATHS[flow]}/${medium}/requestToken`)
          .post(checkClientLimit, jsonBody, async (req: Request, res: Response) => {
            const result = await service.requestToken(flow, medium, req.body, {
              clientIp: clientKeys.get(req) ?? rateLimitKey(clientIp(req)),
              language: requestLanguage(req),
            });
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

  const linkPage = createLinkPage(service, pages);
  router.route(EMAIL_VALIDATE_PATH).get(linkPage.show(formAction)).post(formBody, linkPage.confirm).all(methodNotAllowed);

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
  router.use(answerErrors);
  return router;
}
