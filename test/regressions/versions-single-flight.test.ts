// Regression: `/versions` sent one upstream request per client request. With
// a homeserver that did not answer, 50 concurrent clients opened 50 upstream
// connections, and again every 5 s once the fallback expired. Concurrent
// callers now share one upstream request (with its bounded wait), and the
// answer is cached as before.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Router } from 'express';
import { silentLogger } from '../../src/logger';
import { OWN_VERSIONS, VersionsSource } from '../../src/http/versions';
import { eventually } from '../support/e2e-utils';
import { removeDir, startModule, tempDir, type Running } from '../support/harness';
import { expectResponseMatchesSpec } from '../support/spec';

const VERSIONS = '/_matrix/client/versions';
const CLIENTS = 50;

/** A homeserver whose `/versions` holds every request open until `answer` is called. */
async function startHoldingHomeserver() {
  const held: ServerResponse[] = [];
  let answer: object | undefined;
  const seen = { connections: 0, requests: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.requests += 1;
    if (req.url !== VERSIONS) return void res.writeHead(404).end();
    if (answer) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    held.push(res);
  });
  server.on('connection', () => {
    seen.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    answer(body: object) {
      answer = body;
      for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let dir: string;
let hs: Running | undefined;
let homeserver: Awaited<ReturnType<typeof startHoldingHomeserver>>;

beforeEach(async () => {
  dir = tempDir();
  homeserver = await startHoldingHomeserver();
});

afterEach(async () => {
  await hs?.close();
  hs = undefined;
  await homeserver.close();
  removeDir(dir);
});

it('asks a slow homeserver once for 50 concurrent clients, and answers them all when it answers', async () => {
  let arrived = 0;
  const countArrivals = Router().get(VERSIONS, (_req, _res, next) => {
    arrived += 1;
    next();
  });
  hs = await startModule(
    { database: { path: path.join(dir, 'threepid.sqlite') }, homeserver: { base_url: homeserver.url } },
    {},
    [countArrivals],
  );
  const url = `${hs.url}${VERSIONS}`;
  const answers = Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const response = await fetch(url);
      return { status: response.status, body: (await response.json()) as any };
    }),
  );
  await eventually(() => arrived === CLIENTS && homeserver.seen.requests > 0, 'every client waiting on the homeserver');
  homeserver.answer({ versions: ['v1.11'], unstable_features: { 'org.example.feature': true } });

  for (const { status, body } of await answers) {
    expect(status).toBe(200);
    expectResponseMatchesSpec('client-server/versions.yaml', '/versions', 'get', 200, body);
    expect(body).toEqual({ versions: ['v1.11'], unstable_features: { 'org.example.feature': true, 'm.require_identity_server': false } });
  }
  expect(homeserver.seen).toEqual({ connections: 1, requests: 1 });
});

it('asks a homeserver that never answers once for 50 concurrent callers, who all get the fallback when the wait ends', async () => {
  const source = new VersionsSource(homeserver.url, silentLogger, Date.now, 200);
  const bodies = await Promise.all(Array.from({ length: CLIENTS }, () => source.get()));
  for (const body of bodies) {
    expect(body).toEqual({ versions: [...OWN_VERSIONS], unstable_features: { 'm.require_identity_server': false } });
  }
  expect(homeserver.seen).toEqual({ connections: 1, requests: 1 });
});
