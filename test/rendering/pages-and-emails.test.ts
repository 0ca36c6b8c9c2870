/**
 * Looked at, not only parsed: every page (confirm and success for each flow,
 * and the failures) and every HTML email, in English and German, with and
 * without a logo, rendered by Chromium at desktop and phone width. Each is
 * kept as a screenshot (test-output/screenshots/) and checked: nothing runs
 * past the viewport's width, and on a phone the button is on the first
 * screen. The logo loads under the pages' CSP, and nothing from another
 * origin does.
 */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { Router } from 'express';
import type { Browser, Page } from 'playwright-core';
import { keepScreenshot, launchChromium } from '../support/browser';
import { FLOW_NAMES, FLOWS as FLOW_RULES } from '../../src/threepid/flows';
import { requestTokenPath } from '../support/request-token-fixture';
import { FakeClock, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp';

const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 360, height: 640 },
} as const;
type Width = keyof typeof VIEWPORTS;

/** Each flow, by the name its templates carry, and its requestToken path. */
const FLOWS = FLOW_NAMES.map((flow) => [FLOW_RULES[flow].template, requestTokenPath(flow)] as const);
const LANGUAGES = ['en', 'de'] as const;
const LOGO_PATH = '/brand/logo.svg';
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="168" height="40" viewBox="0 0 168 40">' +
  '<rect width="40" height="40" rx="8" fill="#0a7f5c"/><circle cx="20" cy="20" r="9" fill="#fff"/>' +
  '<text x="50" y="27" font-family="sans-serif" font-size="20" font-weight="700" fill="#17191c">Beispiel</text></svg>';
/** email.validation_token_lifetime's default. */
const TOKEN_LIFETIME_MS = 60 * 60_000;

/** What Chromium measured on a rendered page or email. */
interface Layout {
  lang: string;
  viewportWidth: number;
  viewportHeight: number;
  scrollWidth: number;
  /** The right edge of the element furthest right. */
  rightmost: number;
  button: { top: number; bottom: number; left: number; right: number } | null;
  logo: { complete: boolean; naturalWidth: number } | null;
}

/** Runs in the page (as source text: the tests are compiled without the DOM's types). */
const MEASURE = `(selector) => {
  const rect = (element) => {
    if (!element) return null;
    const { top, bottom, left, right } = element.getBoundingClientRect();
    return { top, bottom, left, right };
  };
  const image = document.querySelector('img');
  return {
    lang: document.documentElement.lang,
    viewportWidth: window.innerWidth,
    viewportHeight: window.innerHeight,
    scrollWidth: document.documentElement.scrollWidth,
    rightmost: Math.max(0, ...[...document.querySelectorAll('body *')].map((element) => element.getBoundingClientRect().right)),
    button: rect(document.querySelector(selector)),
    logo: image ? { complete: image.complete, naturalWidth: image.naturalWidth } : null,
  };
}`;

async function measure(page: Page, buttonSelector: string): Promise<Layout> {
  return page.evaluate(`(${MEASURE})(${JSON.stringify(buttonSelector)})`) as Promise<Layout>;
}

/** Loads an image in the page; answers whether the browser allowed it. */
const LOAD_IMAGE = `(url) => new Promise((resolve) => {
  const image = new Image();
  image.onload = () => resolve('loaded');
  image.onerror = () => resolve('refused');
  image.src = url;
})`;

function expectFits(layout: Layout, width: Width, what: string): void {
  const context = `${what} at ${width} width`;
  expect({ context, scrollWidth: layout.scrollWidth }).toEqual({ context, scrollWidth: layout.viewportWidth });
  expect({ context, overflows: layout.rightmost > layout.viewportWidth + 0.5 }).toEqual({ context, overflows: false });
}

function expectButtonOnFirstScreen(layout: Layout, width: Width, what: string): void {
  expect(layout.button).not.toBeNull();
  if (width !== 'phone') return;
  const context = `${what}: button on a phone's first screen`;
  const { top, bottom } = layout.button!;
  expect({ context, visible: top >= 0 && bottom <= layout.viewportHeight }).toEqual({ context, visible: true });
}

describe('pages and HTML emails, rendered in Chromium', () => {
  let browser: Browser;
  let smtp: SmtpSink;
  let elsewhere: Server;
  let elsewhereUrl: string;
  let elsewhereHits = 0;

  beforeAll(async () => {
    browser = await launchChromium();
    smtp = await startSmtpSink();
    // Another origin the pages must not load anything from.
    elsewhere = createServer((_req, res) => {
      elsewhereHits += 1;
      res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(LOGO_SVG);
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}`;
  }, 600_000); // the first run may install chromium

  afterAll(async () => {
    await browser?.close();
    await smtp?.close();
    await new Promise((resolve) => elsewhere?.close(resolve));
  });

  describe.each([
    ['plain', false],
    ['logo', true],
  ])('%s', (variant, withLogo) => {
    let dir: string;
    let hs: Running;
    let clock: FakeClock;

    beforeAll(async () => {
      dir = tempDir();
      clock = new FakeClock(Date.now());
      const logo = Router().get(LOGO_PATH, (_req, res) => {
        res.type('image/svg+xml').send(LOGO_SVG);
      });
      hs = await startModule(
        {
          database: { path: path.join(dir, 'threepid.sqlite') },
          server_name: 'beispiel-universitaet.example',
          email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, app_name: 'Beispiel Chat' },
          ...(withLogo
            ? { branding: { logo_url: LOGO_PATH, accent_color: '#0a7f5c', support_url: 'https://hilfe.beispiel-universitaet.example/' } }
            : {}),
        },
        {
          clock,
          directory: { findUserId: async (_medium, address) => (address.startsWith('owner') ? '@owner:example.org' : null) },
        },
        [logo],
      );
    });

    afterAll(async () => {
      await hs?.close();
      removeDir(dir);
    });

    let counter = 0;
    async function requestToken(route: string, language: string, owner: boolean): Promise<ReceivedMail> {
      counter += 1;
      const email = `${owner ? 'owner' : 'new'}-${variant}-${counter}@example.org`;
      const res = await post(hs.url + route, { client_secret: `render${counter}`, email, send_attempt: 1 }, { 'accept-language': language });
      expect(res.status).toBe(200);
      const mails = await smtp.waitFor(smtp.messages.length + 1);
      const mail = mails.find((candidate) => candidate.to.includes(email));
      expect(mail).toBeDefined();
      return mail!;
    }

    async function open(width: Width): Promise<Page> {
      return browser.newPage({ viewport: VIEWPORTS[width] });
    }

    async function checkLogo(page: Page, layout: Layout, what: string): Promise<void> {
      if (!withLogo) {
        expect({ what, logo: layout.logo }).toEqual({ what, logo: null });
        return;
      }
      await page.waitForFunction("document.querySelector('img')?.complete === true");
      expect({ what, loaded: (await measure(page, 'button')).logo!.naturalWidth > 0 }).toEqual({ what, loaded: true });
    }

    it.each(LANGUAGES)('%s: each flow’s email, confirm page and success page fit desktop and phone', async (language) => {
      for (const width of Object.keys(VIEWPORTS) as Width[]) {
        const page = await open(width);
        try {
          for (const [flow, route] of FLOWS) {
            const mail = await requestToken(route, language, flow === 'password_reset');
            const name = `${variant}-${language}-${flow}`;
            // The HTML email, as a mail app that shows HTML would.
            await page.setContent(mail.html, { waitUntil: 'load' });
            const email = await measure(page, 'a[href*="/validate?"]');
            expect(email.lang).toBe(language);
            expectFits(email, width, `email ${name}`);
            expectButtonOnFirstScreen(email, width, `email ${name}`);
            if (withLogo) expect(email.logo?.naturalWidth).toBeGreaterThan(0);
            await keepScreenshot(page, `email-${name}-${width}`);

            await page.goto(linkIn(mail).href);
            const confirm = await measure(page, 'button[type=submit]');
            expect(confirm.lang).toBe(language);
            expectFits(confirm, width, `confirm ${name}`);
            expectButtonOnFirstScreen(confirm, width, `confirm ${name}`);
            await checkLogo(page, confirm, `confirm ${name}`);
            await keepScreenshot(page, `page-${name}-confirm-${width}`);

            await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
            const success = await measure(page, 'h1');
            expect(success.lang).toBe(language);
            expect(await page.textContent('h1')).toBe(language === 'en' ? 'Email address confirmed' : 'E-Mail-Adresse bestätigt');
            expectFits(success, width, `success ${name}`);
            await checkLogo(page, success, `success ${name}`);
            await keepScreenshot(page, `page-${name}-success-${width}`);
          }
        } finally {
          await page.close();
        }
      }
    });

    it.each(LANGUAGES)('%s: each failure page fits desktop and phone', async (language) => {
      const mail = await requestToken(FLOWS[0][1], language, false);
      const link = linkIn(mail);
      const wrongToken = new URL(link);
      wrongToken.searchParams.set('token', 'not-the-token');
      const failures: Array<[string, (page: Page) => Promise<unknown>]> = [
        ['incomplete', (page) => page.goto(`${hs.url}${link.pathname}?sid=${link.searchParams.get('sid')}`)],
        ['unknown', (page) => page.goto(`${hs.url}${link.pathname}?sid=nosuchsession&client_secret=x&token=y`)],
        [
          'incorrect',
          async (page) => {
            await page.goto(wrongToken.href);
            await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
          },
        ],
        [
          'expired',
          async (page) => {
            clock.advance(TOKEN_LIFETIME_MS + 1_000);
            try {
              await page.goto(link.href);
            } finally {
              clock.advance(-(TOKEN_LIFETIME_MS + 1_000));
            }
          },
        ],
      ];
      for (const width of Object.keys(VIEWPORTS) as Width[]) {
        const page = await open(width);
        await page.setExtraHTTPHeaders({ 'accept-language': language });
        try {
          for (const [reason, reach] of failures) {
            await reach(page);
            const layout = await measure(page, 'h1');
            expect({ reason, lang: layout.lang }).toEqual({ reason, lang: language });
            expect(await page.textContent('h1')).toBe(language === 'en' ? 'This link did not work' : 'Dieser Link hat nicht funktioniert');
            expectFits(layout, width, `failure ${reason}`);
            await checkLogo(page, layout, `failure ${reason}`);
            await keepScreenshot(page, `page-${variant}-${language}-failure-${reason}-${width}`);
          }
        } finally {
          await page.close();
        }
      }
    });

    it('loads images from the logo’s source only: another origin is refused by the CSP', async () => {
      const mail = await requestToken(FLOWS[0][1], 'en', false);
      const page = await open('desktop');
      try {
        await page.goto(linkIn(mail).href);
        const load = (src: string) => page.evaluate(`(${LOAD_IMAGE})(${JSON.stringify(src)})`);
        const hitsBefore = elsewhereHits;
        expect(await load(`${elsewhereUrl}/logo.svg`)).toBe('refused');
        expect(elsewhereHits).toBe(hitsBefore);
        // The operator's logo path: allowed only when a logo is configured ('self' is then the one source).
        expect(await load(`${hs.url}${LOGO_PATH}`)).toBe(withLogo ? 'loaded' : 'refused');
      } finally {
        await page.close();
      }
    });
  });
});
