/**
 * The server under test, run as a child of `bench/run.ts` so that its memory
 * is measured on its own. argv[2] is a {@link ServerSpec} in JSON. It listens
 * on a free loopback port, reports it over IPC, and stops when told to (so a
 * `--cpu-prof` profile is written on the way out).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import BetterSqlite3 from 'better-sqlite3';
import express from 'express';
import { parseConfig } from '../src/config';
import { createApp } from '../src/http/app';
import { silentLogger } from '../src/logger';
import { createThreepidModule } from '../src/module';
import { submitTokenPath } from '../src/threepid/paths';
import { REQUEST_TOKEN_PATH, type ChildMessage, type ParentMessage, type ServerSpec } from './protocol';

/**
 * The baseline, as the issue defines it: Express 5 and `express.json()`,
 * one row inserted into SQLite (a file in WAL mode with synchronous=NORMAL,
 * as the module keeps its own; one prepared statement), and the answer
 * requestToken gives.
 */
function bareApp(baseUrl: string, databasePath: string): express.Express {
  const db = new BetterSqlite3(databasePath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO requests (received_at, body) VALUES (?, ?)');
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const answer = { sid: 'AAAAAAAAAAAAAAAAAAAAAA', submit_url: `${baseUrl}${submitTokenPath('email')}` };
  app.post(REQUEST_TOKEN_PATH, express.json(), (req, res) => {
    insert.run(Date.now(), JSON.stringify(req.body));
    res.json(answer);
  });
  return app;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ServerSpec;
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  let closeModule = async () => {};
  if (spec.kind === 'bare') {
    server.on('request', bareApp(baseUrl, spec.databasePath));
  } else {
    const config = parseConfig({
      public_baseurl: baseUrl,
      database: { path: spec.databasePath },
      email: { smtp_host: '127.0.0.1', smtp_port: spec.smtpPort, notif_from: 'Bench <noreply@bench.test>' },
      // Every request comes from one IP: the limiter never refuses, unless refusing is what is measured.
      rc_3pid_validation: spec.rateLimited ? { per_second: 0.003, burst_count: 5 } : { per_second: 1e9, burst_count: 1e9 },
    });
    const module = await createThreepidModule({ config });
    server.on('request', createApp(module.clientRouter, silentLogger));
    closeModule = () => module.close();
  }

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'usage') {
      const cpu = process.cpuUsage();
      send({ type: 'usage', rss: process.memoryUsage.rss(), cpuMicros: cpu.user + cpu.system });
    } else if (message.type === 'stop') {
      server.closeAllConnections();
      server.close();
      void closeModule().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(1));
  send({ type: 'ready', port });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
