/**
 * Every language's link page, in one Chromium page at phone width: a
 * pseudo-locale (accented and 40% longer, made here from en.json) shows
 * that no text runs past the screen or is cut; the right-to-left
 * languages (the shipped ones, or a right-to-left pseudo-locale when none
 * ships) show `dir="rtl"` and a mirrored layout. With KEEP_SCREENSHOTS=1,
 * one screenshot per language.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { languageInfo, SHIPPED_MESSAGES_DIR } from '../../src/delivery/language-list';
import { Templates } from '../../src/delivery/templates';
import { keepScreenshot, launchChromium } from '../support/browser';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { requestTokenPath } from '../support/request-token-fixture';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

const PHONE = { width: 360, height: 640 };
const PSEUDO = 'en-XA';
const PSEUDO_RTL = 'ar-XB';

const ACCENTED: Readonly<Record<string, string>> = Object.fromEntries(
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((char, at) => [char, [...'áƀçđéƒğĥíĵķĺɱñóþǫŕšťúṽŵẋýžÁƁÇĐÉƑĞĤÍĴĶĹṀÑÓÞǪŔŠŤÚṼŴẊÝŽ'][at]]),
);
const HEBREW = [...'אבגדהוזחטיכלמנסעפצקרשתךםןף'];

/**
 * Rewrites the words of an ICU message, leaving its arguments, plural
 * forms and tags as they are: only text outside braces and tags changes.
 */
function rewriteWords(message: string, change: (char: string) => string, padding: (length: number) => string): string {
  let depth = 0;
  let inTag = false;
  let out = '';
  for (const char of message) {
    if (char === '{') depth += 1;
    if (char === '<') inTag = true;
    out += depth === 0 && !inTag ? change(char) : char;
    if (char === '}') depth -= 1;
    if (char === '>') inTag = false;
  }
  return out + padding(message.length);
}

const english = JSON.parse(readFileSync(path.join(SHIPPED_MESSAGES_DIR, 'en.json'), 'utf8')) as Record<string, string>;
/** Accented, and 40% longer than English. */
const pseudo = Object.fromEntries(
  Object.entries(english).map(([key, message]) => [
    key,
    rewriteWords(message, (char) => ACCENTED[char] ?? char, (length) => ` ${'ŵőŕđšŵőŕđš'.repeat(Math.ceil((0.4 * length) / 10)).slice(0, Math.ceil(0.4 * length) - 1)}`),
  ]),
);
const pseudoRtl = Object.fromEntries(
  Object.entries(english).map(([key, message]) => [
    key,
    rewriteWords(message, (char) => (/[a-z]/i.test(char) ? HEBREW[char.toLowerCase().charCodeAt(0) - 97] : char), () => ''),
  ]),
);

/** Runs in the page: what overflows, what is cut, and where the brand and heading sit. */
const MEASURE = `() => {
  const viewport = document.documentElement.clientWidth;
  const blocks = [...document.querySelectorAll('main, main *')].filter((element) => getComputedStyle(element).display !== 'inline');
  const cut = blocks
    .filter((element) => element.scrollWidth > element.clientWidth + 1 || element.scrollHeight > element.clientHeight + 1 && getComputedStyle(element).overflowY !== 'visible')
    .map((element) => element.tagName + '.' + element.className);
  const outside = [...document.querySelectorAll('body *')]
    .filter((element) => { const box = element.getBoundingClientRect(); return box.width > 0 && (box.right > viewport + 0.5 || box.left < -0.5); })
    .map((element) => element.tagName + '.' + element.className);
  const main = document.querySelector('main').getBoundingClientRect();
  const brand = document.querySelector('.brand span, .brand img').getBoundingClientRect();
  const heading = document.querySelector('h1');
  const range = document.createRange();
  range.selectNodeContents(heading);
  const text = range.getBoundingClientRect();
  return {
    lang: document.documentElement.lang,
    dir: document.documentElement.dir,
    direction: getComputedStyle(document.body).direction,
    scrollWidth: document.documentElement.scrollWidth,
    viewport,
    cut,
    outside,
    heading: heading.textContent,
    button: document.querySelector('button[type=submit]').textContent,
    brandGap: { start: brand.left - main.left, end: main.right - brand.right },
    headingGap: { start: text.left - main.left, end: main.right - text.right },
  };
}`;

interface Measured {
  lang: string;
  dir: string;
  direction: string;
  scrollWidth: number;
  viewport: number;
  cut: string[];
  outside: string[];
  heading: string;
  button: string;
  brandGap: { start: number; end: number };
  headingGap: { start: number; end: number };
}

describe('every language’s link page in Chromium at phone width', () => {
  let browser: Browser;
  let page: Page;
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;
  let link: URL;
  const shippedRtl = new Templates().languages.filter((tag) => languageInfo(tag).dir === 'rtl');
  const rtl = shippedRtl.length > 0 ? shippedRtl : [PSEUDO_RTL];

  beforeAll(async () => {
    dir = tempDir();
    mkdirSync(path.join(dir, 'templates', 'messages'), { recursive: true });
    writeFileSync(path.join(dir, 'templates', 'messages', `${PSEUDO}.json`), JSON.stringify(pseudo));
    if (shippedRtl.length === 0) writeFileSync(path.join(dir, 'templates', 'messages', `${PSEUDO_RTL}.json`), JSON.stringify(pseudoRtl));
    smtp = await startSmtpSink();
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      server_name: 'beispiel-universitaet.example',
      templates_dir: path.join(dir, 'templates'),
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, app_name: 'Beispiel Chat' },
      branding: { support_url: 'https://hilfe.beispiel-universitaet.example/' },
    });
    const res = await post(hs.url + requestTokenPath('register'), { client_secret: 'languages', email: 'reader@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    link = linkIn((await smtp.waitFor(1))[0]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: PHONE });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await hs?.close();
    await smtp?.close();
    removeDir(dir);
  });

  async function show(language: string): Promise<Measured> {
    const url = new URL(link);
    url.searchParams.set('lang', language);
    await page.goto(url.href);
    const measured = (await page.evaluate(`(${MEASURE})()`)) as Measured;
    await keepScreenshot(page, `language-${language}-link-page-phone`);
    return measured;
  }

  const expectNothingOverflows = (language: string, measured: Measured) => {
    expect({ language, scrollWidth: measured.scrollWidth, cut: measured.cut, outside: measured.outside }).toEqual({
      language,
      scrollWidth: measured.viewport,
      cut: [],
      outside: [],
    });
  };

  it('shows the pseudo-locale, accented and 40% longer, whole: nothing runs past the screen or is cut', async () => {
    const measured = await show(PSEUDO);
    expect(measured.lang).toBe(PSEUDO);
    expect(measured.heading).toBe(pseudo['page.registration.confirm.heading']);
    expect(measured.button).toBe(pseudo['page.registration.confirm.button']);
    expect(pseudo['page.registration.confirm.intro'].length).toBeGreaterThanOrEqual(1.4 * english['page.registration.confirm.intro'].length - 1);
    expectNothingOverflows(PSEUDO, measured);
  });

  it.each(rtl)('%s reads right to left: dir="rtl", and the brand and heading start at the right edge', async (language) => {
    const measured = await show(language);
    expect({ lang: measured.lang, dir: measured.dir, direction: measured.direction }).toEqual({ lang: language, dir: 'rtl', direction: 'rtl' });
    // Mirrored: the start edge (the right one) is the near one.
    expect(measured.brandGap.end).toBeLessThan(measured.brandGap.start);
    expect(measured.headingGap.end).toBeLessThanOrEqual(measured.headingGap.start);
    expectNothingOverflows(language, measured);
  });

  it('shows every shipped language left to right or right to left as its list says, nothing running past the screen', async () => {
    for (const language of new Templates().languages) {
      const measured = await show(language);
      expect({ lang: measured.lang, dir: measured.dir }).toEqual({ lang: language, dir: languageInfo(language).dir });
      if (measured.dir === 'ltr') expect(measured.brandGap.start).toBeLessThan(measured.brandGap.end);
      expectNothingOverflows(language, measured);
    }
  });
});
