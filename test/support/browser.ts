import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '../..');
const ENSURE = path.join(ROOT, 'test', 'support', 'ensure-debian-packages.sh');
/** Debian's Chromium; playwright-core never downloads a browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots the browser tests keep for a reviewer to look at (not committed). */
export const SCREENSHOT_DIR = path.join(ROOT, 'test-output', 'screenshots');

/** Installs Debian's chromium (and fonts to render text with) when missing. */
export function setupChromium(): string {
  try {
    execFileSync('bash', [ENSURE, CHROMIUM, 'chromium', 'fonts-liberation', 'fonts-dejavu-core'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 900_000,
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new Error(`installing chromium failed:\n${stderr}`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing after install`);
  return CHROMIUM;
}

/**
 * Headless Chromium on this machine's closed network: background services
 * that would call out (updates, sync, QUIC probes) are off, and the profile
 * is a fresh temporary one.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: setupChromium(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * With `KEEP_SCREENSHOTS=1` in the environment, saves a full-page screenshot
 * as `test-output/screenshots/<name>.png`, for a person to look at. Otherwise
 * does nothing: the checks measure the page themselves, and encoding a
 * hundred full-page images takes a quarter of the rendering tests' time.
 */
export async function keepScreenshot(page: Page, name: string): Promise<void> {
  if (process.env.KEEP_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^a-zA-Z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
}
