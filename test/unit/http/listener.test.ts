import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../../src/config';
import { connectionCap, createListener, openFileLimit } from '../../../src/http/listener';
import { CapturingLogger, removeDir, tempDir } from '../../support/harness';

describe('the public listener’s connection cap and the file descriptor limit', () => {
  it('keeps the cap at most half the process’s descriptors, leaving the rest to the internal listener', () => {
    expect(connectionCap(1000, 20_000)).toBe(1000);
    expect(connectionCap(1000, 1024)).toBe(512);
    expect(connectionCap(1000, 1)).toBe(1);
    expect(connectionCap(1000, undefined)).toBe(1000);
    expect(connectionCap(0, 1024)).toBe(0);
  });

  it('reads the soft limit from a /proc/<pid>/limits file, and gives undefined without one', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'limits');
      writeFileSync(
        file,
        'Limit                     Soft Limit           Hard Limit           Units     \n' +
          'Max processes             63448                63448                processes \n' +
          'Max open files            4096                 524288               files     \n',
      );
      expect(openFileLimit(file)).toBe(4096);
      expect(openFileLimit(path.join(dir, 'missing'))).toBeUndefined();
    } finally {
      removeDir(dir);
    }
  });

  it('reads this process’s own limit on Linux', () => {
    if (process.platform !== 'linux') return;
    expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('caps a server configured above half the limit, and says so in the log', () => {
    const logger = new CapturingLogger();
    const settings = parseConfig({ listeners: { client: { max_connections: 1000 } } }).listeners.client;
    const server = createListener(() => {}, settings, { logger, fdLimit: 64 });
    expect(server.maxConnections).toBe(32);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(5_000);
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'warn', fields: { max_connections: 1000, open_file_limit: 64, capped_at: 32 } })]);
  });
});
