/**
 * Every /health and /ready probe was logged at info: a load balancer asking
 * every few seconds buried the requests that matter. Probes are logged at
 * debug; every other request stays at info.
 */
import path from 'node:path';
import { CapturingLogger, removeDir, startModule, tempDir } from '../support/harness';

it('logs /health and /ready at debug, other requests at info', async () => {
  const dir = tempDir();
  const logger = new CapturingLogger();
  const hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') } }, { logger });
  try {
    for (const probe of ['/health', '/ready']) expect((await fetch(`${hs.internalUrl}${probe}`)).status).toBe(200);
    await fetch(`${hs.url}/_matrix/client/versions`);
    const requests = logger.lines
      .filter((line) => line.message === 'request')
      .map((line) => [(line.fields as { route: string }).route, line.level]);
    expect(requests).toEqual([
      ['/health', 'debug'],
      ['/ready', 'debug'],
      ['/_matrix/client/versions', 'info'],
    ]);
  } finally {
    await hs.close();
    removeDir(dir);
  }
});
