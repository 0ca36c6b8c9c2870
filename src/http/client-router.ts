import express, { Router, type Request, type Response } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Templates } from '../delivery/templates';
import type { Flow, Medium } from '../store/sessions';
import { ThreepidError } from '../threepid/errors';
import { FLOW_NAMES, FLOWS } from '../threepid/flows';
import { brandingView, logoImageSource } from '../delivery/branding';
import { negotiateLanguage } from '../delivery/languages';
import { nextLinkWithSid } from '../threepid/next-link';
import { EMAIL_VALIDATE_PATH, submitTokenPath } from '../threepid/paths';
import { parseSubmitTokenRequest } from '../threepid/request-body';
import type { ThreepidService } from '../threepid/service';
import { clientIpResolver } from './client-ip';
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

/**
 * The pages' Content-Security-Policy: nothing but inline styles, and images
 * from exactly one source when the operator has a logo (`'self'` for a path
 * on this server, else the logo's origin).
 */
export function pageContentSecurityPolicy(imageSource: string | undefined): string {
  return `default-src 'none'; style-src 'unsafe-inline'; ${imageSource ? `img-src ${imageSource}; ` : ''}frame-ancestors 'none'`;
}

/** Headers for the pages a person opens: the URL carries a token. */
function setPageHeaders(res: Response, csp: string, language: string): void {
  res.set({
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Language': language,
    Vary: 'Accept-Language',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': csp,
  });
}

/** Why a link did not work; `pages/failure.html` has a text for each (`reason_<name>`). */
export type FailureReason = 'incomplete' | 'unknown' | 'expired' | 'incorrect' | 'error';

function failureReason(err: ThreepidError): FailureReason {
  switch (err.errcode) {
    case 'M_SESSION_EXPIRED':
      return 'expired';
    case 'M_TOKEN_INCORRECT':
      return 'incorrect';
    case 'M_INVALID_PARAM':
    case 'M_MISSING_PARAM':
    case 'M_NO_VALID_SESSION':
      return 'unknown';
    default:
      return 'error';
  }
}

/** Every page template, checked at start in every language. */
export const PAGE_TEMPLATE_FILES = [
  ...Object.values(FLOWS).flatMap((rules) => [`pages/${rules.template}_confirm.html`, `pages/${rules.template}_success.html`]),
  'pages/failure.html',
];

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
  const csp = pageContentSecurityPolicy(logoImageSource(config));
  const brand = brandingView(config, 'page');
  const { defaultLanguage } = config.email;
  /** The language the request's Accept-Language asks for, among those there are templates for. */
  const requestLanguage = (req: Request) => negotiateLanguage(req.get('accept-language'), templates.languages, defaultLanguage);
  /** A session's own language (its email's) when there are still templates for it; else the request's. */
  const pageLanguage = (req: Request, sessionLanguage: string | null | undefined) =>
    sessionLanguage && templates.languages.includes(sessionLanguage) ? sessionLanguage : requestLanguage(req);
  /** The form posts back to the page's own path, under public_baseurl's path when it has one. */
  const formAction = `${config.publicBasePath}${EMAIL_VALIDATE_PATH}`;
  const router = Router();

  for (const version of API_VERSIONS) {
    for (const flow of FLOW_NAMES) {
      for (const medium of MEDIUMS) {
        router
          .route(`/_matrix/client/${version}/${FLOW_PATHS[flow]}/${medium}/requestToken`)
          .post(jsonBody, async (req: Request, res: Response) => {
            const result = await service.requestToken(flow, medium, req.body, {
              clientIp: clientIp(req),
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

  for (const medium of MEDIUMS) {
    router
      .route(submitTokenPath(medium))
      .post(jsonBody, async (req: Request, res: Response) => {
        await service.submitToken(parseSubmitTokenRequest(req.body), medium);
        res.json({ success: true });
      })
      .all(methodNotAllowed);
  }

  const page = (res: Response, status: number, name: string, language: string, view: Record<string, unknown> = {}) => {
    const rendered = templates.renderWithLanguage(`pages/${name}.html`, language, { ...brand, ...view });
    setPageHeaders(res, csp, rendered.language);
    res.status(status).send(rendered.text);
  };
  const failurePage = (res: Response, status: number, reason: FailureReason, language: string) =>
    page(res, status, 'failure', language, { [`reason_${reason}`]: true });

  // A GET only shows a button: mail scanners that fetch every link must not
  // validate the session. The form POSTs the token back here. The session
  // says which flow's page to show, and in which language.
  router
    .route(EMAIL_VALIDATE_PATH)
    .get(async (req: Request, res: Response) => {
      const { sid, client_secret: clientSecret, token } = req.query;
      if (typeof sid !== 'string' || typeof clientSecret !== 'string' || typeof token !== 'string') {
        return failurePage(res, 400, 'incomplete', requestLanguage(req));
      }
      const session = await service.linkSession(sid, clientSecret);
      if (!session) return failurePage(res, 400, 'unknown', requestLanguage(req));
      const language = pageLanguage(req, session.language);
      if (session.expired) return failurePage(res, 400, 'expired', language);
      page(res, 200, `${FLOWS[session.flow].template}_confirm`, language, {
        action: formAction,
        sid,
        client_secret: clientSecret,
        token,
      });
    })
    .post(express.urlencoded({ extended: false, limit: MAX_BODY_BYTES }), async (req: Request, res: Response) => {
      try {
        const result = await service.submitToken(parseSubmitTokenRequest(req.body ?? {}), 'email');
        if (result.nextLink) return res.redirect(302, nextLinkWithSid(result.nextLink, req.body.sid));
        page(res, 200, `${FLOWS[result.flow].template}_success`, pageLanguage(req, result.language));
      } catch (err) {
        if (!(err instanceof ThreepidError)) throw err;
        const { sid, client_secret: clientSecret } = (req.body ?? {}) as Record<string, unknown>;
        const session =
          typeof sid === 'string' && typeof clientSecret === 'string' ? await service.linkSession(sid, clientSecret) : undefined;
        const status = ERRCODE_STATUS[err.errcode] >= 500 ? 500 : ERRCODE_STATUS[err.errcode];
        failurePage(res, status, failureReason(err), pageLanguage(req, session?.language));
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
