import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium } from '../../support/browser';

// The browser tests depend on this: Debian's Chromium, started by
// playwright-core without a browser download, renders a page from loopback.
test('Debian chromium renders a loopback page and runs its script', async () => {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><title>t</title><p id="x">static</p><script>document.getElementById("x").textContent = "scripted"</script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(await page.textContent('#x')).toBe('scripted');
  } finally {
    await browser.close();
    server.close();
  }
}, 120_000);
