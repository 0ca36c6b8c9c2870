import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');

/**
 * matrix-js-sdk bundled for the browser, as a web client ships it: esbuild
 * follows the package's `browser` entry (which sets `globalThis.matrixcs`).
 * Written to `dir`; returns the file.
 */
export async function bundleMatrixJsSdk(dir: string): Promise<string> {
  const file = path.join(dir, 'matrix-js-sdk.js');
  await build({
    stdin: { contents: "import 'matrix-js-sdk';", resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome110',
    outfile: file,
    logLevel: 'error',
  });
  return file;
}

/**
 * The web client's page. `show(text, kind)` adds a line to what it displays
 * (the tests' page scripts report each step there, for the screenshots;
 * `kind` is `ok`, `refused` for an expected refusal, or `failed`);
 * coming back from an emailed link, it says which session was validated.
 */
const PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Web client</title>
<style>
  body { font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5 }
  code { background: #f2f2f2; padding: 0 .2em }
  li { overflow-wrap: anywhere }
  li.ok::marker { content: "\\2713  "; color: #1a7f37 }
  li.failed::marker { content: "\\2717  "; color: #c62828 }
  li.refused::marker { content: "\\21A9  "; color: #555 }
  #returned { padding: .5em 1em; background: #e8f5e9; border-left: 4px solid #1a7f37 }
  #returned:empty { display: none }
</style></head>
<body>
  <h1>A web client on another origin</h1>
  <p>This page: <code id="origin"></code></p>
  <p id="returned"></p>
  <ol id="log"></ol>
  <!--sdk-->
  <script>
    document.getElementById('origin').textContent = location.origin;
    const sid = new URLSearchParams(location.search).get('sid');
    if (sid) document.getElementById('returned').textContent = 'Back from the emailed link: session ' + sid + ' is validated.';
    window.show = (text, kind = 'ok') => {
      const item = document.createElement('li');
      item.className = kind;
      item.textContent = text;
      document.getElementById('log').append(item);
    };
  </script>
</body>
</html>
`;

export interface WebOrigin {
  /** e.g. `http://127.0.0.1:PORT`: another origin than the homeserver's. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the web client from its own loopback port (another origin than
 * nginx's): the page at any path, and with a bundle, the SDK at
 * `/matrix-js-sdk.js` (loaded by the page).
 */
export async function startWebOrigin(bundleFile?: string): Promise<WebOrigin> {
  const bundle = bundleFile === undefined ? undefined : readFileSync(bundleFile);
  const page = PAGE.replace('<!--sdk-->', bundle ? '<script src="/matrix-js-sdk.js"></script>' : '');
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/matrix-js-sdk.js' && bundle) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      return void res.end(bundle);
    }
    if (pathname === '/favicon.ico') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
