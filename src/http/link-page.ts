import express, { type Request, type RequestHandler, type Response } from 'express';
import { ThreepidError } from '../threepid/errors';
import { FLOWS, templateOf } from '../threepid/flows';
import { nextLinkWithSid } from '../threepid/next-link';
import { parseSubmitTokenRequest } from '../threepid/request-body';
import type { ThreepidService } from '../threepid/service';
import { statusOf } from './errors';
import { MAX_BODY_BYTES } from './json-body';

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

/**
 * The pages, as this layer needs them (the module gives it the operator's
 * templates and branding).
 */
export interface PageRenderer {
  /** The languages there are pages in. */
  readonly languages: readonly string[];
  /** Each of them as the language menu names it (in itself), in the menu's order. */
  readonly languageMenu: ReadonlyArray<{ readonly tag: string; readonly name: string; readonly dir: string }>;
  /** The one source the pages may load images from (the logo's), if any. */
  readonly imageSource: string | undefined;
  /** The language an `Accept-Language` header asks for, among those; else the default one. */
  negotiate(acceptLanguage: string | undefined): string;
  /** `pages/<page>.html` in `language` (or the language it falls back to). */
  render(page: string, language: string, view: Record<string, unknown>): { readonly text: string; readonly language: string };
}

/** Distinct Accept-Language values whose answer is kept; past it, the kept ones are forgotten. */
const KEPT_NEGOTIATIONS = 256;
/** Longer values are negotiated each time: a client may send anything there, up to the header limit. */
const KEPT_HEADER_LENGTH = 256;

/**
 * The language a request's Accept-Language asks for, among those there are
 * pages in. Clients send a few distinct values over and over, and each
 * negotiation costs microseconds: answers are kept, a bounded number.
 */
export function requestLanguageResolver(pages: PageRenderer): (req: Request) => string {
  const kept = new Map<string, string>();
  return (req) => {
    const header = req.headers['accept-language'];
    if (header === undefined || header.length > KEPT_HEADER_LENGTH) return pages.negotiate(header);
    let language = kept.get(header);
    if (language === undefined) {
      language = pages.negotiate(header);
      if (kept.size >= KEPT_NEGOTIATIONS) kept.clear();
      kept.set(header, language);
    }
    return language;
  };
}

/** An `application/x-www-form-urlencoded` body (the Confirm button's form); other types pass untouched. */
export const formBody = express.urlencoded({ extended: false, limit: MAX_BODY_BYTES });

/**
 * The page an emailed link opens. A GET only shows a button: mail scanners
 * that fetch every link must not validate the session. The button's form
 * POSTs the token back; that answers a success page, or a 302 to the
 * session's `next_link` with `sid` appended, or a failure page. The session
 * says which flow's page to show, and in which language.
 */
export interface LinkPage {
  /** GET with `sid`, `client_secret`, `token` in the query: the Confirm page, whose form POSTs to `action`. */
  show(action: string): RequestHandler;
  /** POST of that form (after {@link formBody}). */
  confirm(req: Request, res: Response): Promise<void>;
}

export function createLinkPage(service: ThreepidService, pages: PageRenderer): LinkPage {
  const csp = pageContentSecurityPolicy(pages.imageSource);
  const requestLanguage = requestLanguageResolver(pages);
  /** A language the reader picked in the menu (`lang` in the query or the form), if there are pages in it. */
  const chosenLanguage = (value: unknown) => (typeof value === 'string' && pages.languages.includes(value) ? value : undefined);
  /** The reader's pick; else a session's own language (its email's) when there are still templates for it; else the request's. */
  const pageLanguage = (req: Request, sessionLanguage: string | null | undefined, chosen?: string) =>
    chosen ?? (sessionLanguage && pages.languages.includes(sessionLanguage) ? sessionLanguage : requestLanguage(req));
  /**
   * The language menu: plain links to this same page (a query alone, so
   * the path and origin stay), carrying the link's own parameters and the
   * language; the form then carries the pick into the POST.
   */
  const languageMenu = (query: Record<string, string>, current: string) =>
    pages.languageMenu.length < 2
      ? {}
      : {
          language_menu: pages.languageMenu.map(({ tag, name, dir }) => ({
            tag,
            name,
            dir,
            href: `?${new URLSearchParams({ ...query, lang: tag }).toString()}`,
            current: tag === current,
          })),
        };

  const page = (res: Response, status: number, name: string, language: string, view: Record<string, unknown> = {}) => {
    const rendered = pages.render(name, language, view);
    setPageHeaders(res, csp, rendered.language);
    res.status(status).send(rendered.text);
  };
  const failurePage = (res: Response, status: number, reason: FailureReason, language: string) =>
    page(res, status, 'failure', language, { [`reason_${reason}`]: true });

  return {
    show: (action) => async (req: Request, res: Response) => {
      const { sid, client_secret: clientSecret, token } = req.query;
      if (typeof sid !== 'string' || typeof clientSecret !== 'string' || typeof token !== 'string') {
        return failurePage(res, 400, 'incomplete', requestLanguage(req));
      }
      const session = await service.linkSession(sid, clientSecret);
      if (!session) return failurePage(res, 400, 'unknown', requestLanguage(req));
      const chosen = chosenLanguage(req.query.lang);
      const language = pageLanguage(req, session.language, chosen);
      if (session.expired) return failurePage(res, 400, 'expired', language);
      page(res, 200, `${templateOf(session.flow)}_confirm`, language, {
        action,
        sid,
        client_secret: clientSecret,
        token,
        chosen_lang: chosen,
        ...languageMenu({ sid, client_secret: clientSecret, token }, language),
      });
    },
    async confirm(req: Request, res: Response) {
      try {
        const result = await service.submitToken(parseSubmitTokenRequest(req.body ?? {}), 'email');
        if (result.nextLink) return res.redirect(302, nextLinkWithSid(result.nextLink, req.body.sid));
        page(res, 200, `${templateOf(result.flow)}_success`, pageLanguage(req, result.language, chosenLanguage(req.body.lang)));
      } catch (err) {
        if (!(err instanceof ThreepidError)) throw err;
        const { sid, client_secret: clientSecret } = (req.body ?? {}) as Record<string, unknown>;
        const session =
          typeof sid === 'string' && typeof clientSecret === 'string' ? await service.linkSession(sid, clientSecret) : undefined;
        const status = statusOf(err) >= 500 ? 500 : statusOf(err);
        failurePage(res, status, failureReason(err), pageLanguage(req, session?.language, chosenLanguage((req.body ?? {}).lang)));
      }
    },
  };
}
