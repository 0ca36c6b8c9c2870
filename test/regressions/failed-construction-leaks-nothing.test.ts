// Regression: createThreepidModule opened the database (and its checkpoint
// thread) and then built the routers; a construction step that threw after
// that (a bad trusted_proxies entry, refused by proxy-addr) left the
// database, its thread and the mail transport open, with nobody holding them.
// parseConfig refuses such an entry now, so the test hands the module a
// config object a host built itself, as an embedding host may.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config';
import { createThreepidModule } from '../../src/module';
import { removeDir, tempDir } from '../support/harness';

it('closes the database and its checkpoint thread when construction fails after opening them', async () => {
  const dir = tempDir('threepid-construction-');
  try {
    const file = path.join(dir, 'threepid.sqlite');
    const config = {
      ...parseConfig({ database: { path: file }, email: { smtp_host: '127.0.0.1', smtp_port: 2525 } }),
      trustedProxies: ['not-an-address'],
    };
    await expect(createThreepidModule({ config, processMetrics: false })).rejects.toThrow();
    // The database was opened and migrated...
    expect(existsSync(file)).toBe(true);
    // ...and closed again by its last connection: the write-ahead log and
    // its index are gone, which SQLite does only when no connection (the
    // module's own or its checkpoint thread's) has the file open.
    expect(readdirSync(dir).sort()).toEqual(['outbox-keys', 'threepid.sqlite']);
  } finally {
    removeDir(dir);
  }
});
