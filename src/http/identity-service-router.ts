import { Router, type Request, type RequestHandler, type Response } from 'express';
import ipaddr from 'ipaddr.js';
import type { Logger } from '../logger';
import type { Medium } from '../model';
import { ThreepidError } from '../threepid/errors';
import { parseSubmitTokenRequest, requireFields, type JsonObject } from '../threepid/request-body';
import type { ThreepidService } from '../threepid/service';
import { errorMiddleware, methodNotAllowed } from './errors';
import { jsonBody } from './json-body';
import { createLinkPage, formBody, type PageRenderer } from './link-page';

/** The identity-service v1 API, as Synapse and Dendrite build its URLs. */
export const IDENTITY_SERVICE_PREFIX = '/_matrix/identity/api/v1';
const MEDIUMS: readonly Medium[] = ['email', 'msisdn'];

/**
 * Answers only callers whose socket address (never `X-Forwarded-For`: the
 * caller is the homeserver itself) is in one of `cidrs`; the rest get
 * `403 M_FORBIDDEN` whatever they ask for.
 */
export function allowCallers(cidrs: readonly string[]): RequestHandler {
  const ranges = { allowed: cidrs.map((cidr) => ipaddr.parseCIDR(cidr)) };
  return (req, _res, next) => {
    const address = req.socket.remoteAddress;
    // process() turns ::ffff:127.0.0.1 into 127.0.0.1.
    const allowed =
      address !== undefined && ipaddr.isValid(address) && ipaddr.subnetMatch(ipaddr.process(address), ranges, 'refused') === 'allowed';
    next(allowed ? undefined : new ThreepidError('M_FORBIDDEN', 'This API answers the homeserver only'));
  };
}

/**
 * Dendrite sends form bodies, in which every value is a string: a decimal
 * `send_attempt` is the integer it stands for. JSON bodies are left as they
 * are (`"1"` stays a string there, and is refused).
 */
function fromForm(req: Request): unknown {
  if (!req.is('application/x-www-form-urlencoded')) return req.body;
  const body = { ...(req.body as JsonObject) };
  if (typeof body.send_attempt === 'string' && /^\d{1,15}$/.test(body.send_attempt)) body.send_attempt = Number(body.send_attempt);
  return body;
}

export interface IdentityServiceRouterOptions {
  readonly config: { readonly identityServiceApi: { readonly allowedCallers: readonly string[] } };
  readonly service: ThreepidService;
  readonly pages: PageRenderer;
  readonly logger: Logger;
}

/**
 * The identity-service v1 validation API for homeservers that delegate 3PID
 * validation (Synapse's `account_threepid_delegates.msisdn`, Dendrite's
 * trusted identity server): requestToken, submitToken, the emailed link's
 * page and getValidated3pid, over the module's own sessions. No JWT (those
 * homeservers send none); `identity_service_api.allowed_callers` instead.
 * For the internal listener only.
 */
export function createIdentityServiceRouter(options: IdentityServiceRouterOptions): Router {
  const { config, service, pages } = options;
  const router = Router();
  router.use(IDENTITY_SERVICE_PREFIX, allowCallers(config.identityServiceApi.allowedCallers));
  // Form bodies (Dendrite) first; anything else is parsed as JSON.
  const body = [formBody, jsonBody];

  for (const medium of MEDIUMS) {
    router
      .route(`${IDENTITY_SERVICE_PREFIX}/validate/${medium}/requestToken`)
      .post(body, async (req: Request, res: Response) => {
        const result = await service.requestDelegatedToken(medium, fromForm(req));
        res.json({ sid: result.sid, ...result.responseFields });
      })
      .all(methodNotAllowed);
  }

  const linkPage = createLinkPage(service, pages);
  const submitJson = (medium: Medium) => async (req: Request, res: Response) => {
    await service.submitToken(parseSubmitTokenRequest(req.body), medium);
    res.json({ success: true });
  };
  const emailSubmitPath = `${IDENTITY_SERVICE_PREFIX}/validate/email/submitToken`;
  router
    .route(emailSubmitPath)
    .get(linkPage.show(emailSubmitPath))
    // The Confirm button's form is sent by a browser, which asks for HTML:
    // it gets the page's answer. Any other caller gets the API's JSON.
    .post(body, (req: Request, res: Response) =>
      req.accepts(['application/json', 'text/html']) === 'text/html' ? linkPage.confirm(req, res) : submitJson('email')(req, res),
    )
    .all(methodNotAllowed);
  router
    .route(`${IDENTITY_SERVICE_PREFIX}/validate/msisdn/submitToken`)
    .post(body, submitJson('msisdn'))
    .all(methodNotAllowed);

  router
    .route(`${IDENTITY_SERVICE_PREFIX}/3pid/getValidated3pid`)
    .get(async (req: Request, res: Response) => {
      const query = req.query as JsonObject;
      requireFields(query, ['sid', 'client_secret']);
      if (typeof query.sid !== 'string' || typeof query.client_secret !== 'string') {
        throw new ThreepidError('M_INVALID_PARAM', 'sid and client_secret must be given once each');
      }
      const proof = await service.getDelegatedValidated(query.sid, query.client_secret);
      res.json({ medium: proof.medium, address: proof.address, validated_at: proof.validatedAt });
    })
    .all(methodNotAllowed);

  router.use(errorMiddleware(options.logger));
  return router;
}
