import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../../src/logger';
import { VersionsSource } from '../../../src/http/versions';

describe('VersionsSource', () => {
  it('caches the homeserver’s answer for a minute, but its own fallback for only a few seconds', async () => {
    let up = false;
    let calls = 0;
    const app = express();
    app.get('/_matrix/client/versions', (_req, res) => {
      calls += 1;
      if (!up) return void res.status(502).end();
      res.json({ versions: ['v1.11'] });
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    let now = 0;
    const source = new VersionsSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, silentLogger, () => now);
    try {
      expect((await source.get()).versions).not.toContain('v1.11');
      up = true;
      now += 1_000;
      expect((await source.get()).versions).not.toContain('v1.11'); // still the fallback
      now += 5_000;
      expect((await source.get()).versions).toEqual(['v1.11']);
      now += 30_000;
      await source.get();
      expect(calls).toBe(2);
      now += 31_000;
      await source.get();
      expect(calls).toBe(3);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
