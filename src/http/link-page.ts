import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Config } from '../config';
import type { Templates } from '../delivery/templates';
import { ThreepidError } from '../threepid/errors';
import { nextLinkWithSid } from '../threepid/next-link';
import { parseSubmitTokenRequest } from '../threepid/request-body';
import type { ThreepidService } from '../threepid/service';
import { ERRCODE_STATUS } from './errors';
import { MAX_BODY_BYTES } from './json-body';

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

/** An `application/x-www-form-urlencoded` body (the Confirm button's form); other types pass untouched. */
export const formBody = express.urlencoded({ extended: false, limit: MAX_BODY_BYTES });

/**
 * The page an emailed link opens. A GET only shows a button: mail scanners
 * that fetch every link must not validate the session. The button's form
 * POSTs the token back; that answers a success page, or a 302 to the
 * session's `next_link` with `sid` appended, or a failure page.
 */
export interface LinkPage {
  /** GET with `sid`, `client_secret`, `token` in the query: the Confirm page, whose form POSTs to `action`. */
  show(action: string): RequestHandler;
  /** POST of that form (after {@link formBody}). */
  confirm(req: Request, res: Response): Promise<void>;
}

export function createLinkPage(config: Config, service: ThreepidService, templates: Templates): LinkPage {
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
  return {
    show: (action) => (req: Request, res: Response) => {
      const { sid, client_secret: clientSecret, token } = req.query;
      if (typeof sid !== 'string' || typeof clientSecret !== 'string' || typeof token !== 'string') {
        return page(res, 400, 'failure', { message: 'This link is incomplete.' });
      }
      page(res, 200, 'confirm', { action, sid, client_secret: clientSecret, token });
    },
    async confirm(req: Request, res: Response) {
      try {
        const { nextLink } = await service.submitToken(parseSubmitTokenRequest(req.body ?? {}), 'email');
        if (nextLink) return res.redirect(302, nextLinkWithSid(nextLink, req.body.sid));
        page(res, 200, 'success');
      } catch (err) {
        failurePage(res, err);
      }
    },
  };
}
