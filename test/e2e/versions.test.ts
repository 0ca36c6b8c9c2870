import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { OWN_VERSIONS, withThreepidVersions } from '../../src/http/versions';
import { removeDir, SHARED_SECRET, startModule, tempDir, type Running } from '../support/harness';
import { freePort } from '../support/e2e-utils';
import { expectMatrixError, expectResponseMatchesSpec } from '../support/spec';

const VERSIONS = '/_matrix/client/versions';

interface Upstream {
  url: string;
  hits: number;
  close(): Promise<void>;
}

/** A stand-in homeserver on loopback whose /versions answers `answer`. */
async function startUpstream(answer: (res: express.Response) => void): Promise<Upstream> {
  const app = express();
  const upstream: Upstream = { url: '', hits: 0, close: async () => undefined };
  app.get(VERSIONS, (_req, res) => {
    upstream.hits += 1;
    answer(res);
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return upstream;
}

async function getVersions(hs: Running): Promise<{ status: number; body: any }> {
  const response = await fetch(hs.url + VERSIONS);
  return { status: response.status, body: await response.json() };
}

describe('GET /_matrix/client/versions', () => {
  let dir: string;
  let hs: Running | undefined;
  let upstream: Upstream | undefined;

  const start = (baseUrl?: string, serveVersions?: boolean) =>
    startModule(
      {
        database: { path: path.join(dir, 'threepid.sqlite') },
        homeserver: { shared_secret: SHARED_SECRET, ...(baseUrl ? { base_url: baseUrl } : {}) },
      },
      serveVersions === undefined ? {} : { serveVersions },
    );

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await hs?.close();
    await upstream?.close();
    hs = undefined;
    upstream = undefined;
    removeDir(dir);
  });

  it('answers its own versions with m.require_identity_server false, valid against the spec', async () => {
    hs = await start();
    const res = await getVersions(hs);
    expect(res.status).toBe(200);
    expectResponseMatchesSpec('client-server/versions.yaml', '/versions', 'get', 200, res.body);
    expect(res.body.unstable_features['m.require_identity_server']).toBe(false);
    expect(res.body.versions).toEqual([...OWN_VERSIONS]);
  });

  it('merges the flag into the upstream homeserver answer when homeserver.base_url is set', async () => {
    upstream = await startUpstream((res) => {
      res.json({ versions: ['v1.11'], unstable_features: { 'org.example.x': true } });
    });
    hs = await start(upstream.url);
    const res = await getVersions(hs);
    expect(res.status).toBe(200);
    expectResponseMatchesSpec('client-server/versions.yaml', '/versions', 'get', 200, res.body);
    expect(res.body.versions).toEqual(['v1.11']);
    expect(res.body.unstable_features).toEqual({ 'org.example.x': true, 'm.require_identity_server': false });
  });

  it('overrides an upstream that claims an identity server is required', async () => {
    upstream = await startUpstream((res) => {
      res.json({ versions: ['v1.11'], unstable_features: { 'm.require_identity_server': true } });
    });
    hs = await start(upstream.url);
    const res = await getVersions(hs);
    expect(res.body.unstable_features['m.require_identity_server']).toBe(false);
  });

  it('caches the upstream answer: two requests in a row ask the homeserver once', async () => {
    upstream = await startUpstream((res) => {
      res.json({ versions: ['v1.11'] });
    });
    hs = await start(upstream.url);
    const first = await getVersions(hs);
    const second = await getVersions(hs);
    expect(second.body).toEqual(first.body);
    expect(upstream.hits).toBe(1);
  });

  it('answers its own list when the upstream homeserver is down', async () => {
    hs = await start(`http://127.0.0.1:${await freePort()}`);
    const res = await getVersions(hs);
    expect(res.status).toBe(200);
    expectResponseMatchesSpec('client-server/versions.yaml', '/versions', 'get', 200, res.body);
    expect(res.body.versions).toEqual([...OWN_VERSIONS]);
    expect(res.body.unstable_features).toEqual({ 'm.require_identity_server': false });
  });

  it.each<[string, (res: express.Response) => void]>([
    ['an error status', (res) => void res.status(502).json({ errcode: 'M_UNKNOWN', error: 'bad gateway' })],
    ['a body that is not JSON', (res) => void res.type('text/html').send('<html>maintenance</html>')],
    ['JSON without a versions array', (res) => void res.json({ versions: 'v1.11' })],
  ])('answers its own list when the upstream answers %s', async (_what, answer) => {
    upstream = await startUpstream(answer);
    hs = await start(upstream.url);
    const res = await getVersions(hs);
    expect(res.status).toBe(200);
    expect(res.body.versions).toEqual([...OWN_VERSIONS]);
    expect(res.body.unstable_features['m.require_identity_server']).toBe(false);
  });

  it('answers 405 M_UNRECOGNIZED to a POST', async () => {
    hs = await start();
    const response = await fetch(hs.url + VERSIONS, { method: 'POST', body: '{}' });
    expect(response.status).toBe(405);
    expectMatrixError(await response.json(), 'M_UNRECOGNIZED');
  });

  it('leaves /versions to the host when serveVersions is false, which merges the flag with withThreepidVersions', async () => {
    hs = await start(undefined, false);
    const response = await fetch(hs.url + VERSIONS);
    expect(response.status).toBe(404);

    const body = withThreepidVersions({ versions: ['v1.11'], unstable_features: { 'org.example.x': true } });
    expectResponseMatchesSpec('client-server/versions.yaml', '/versions', 'get', 200, body);
    expect(body.unstable_features).toEqual({ 'org.example.x': true, 'm.require_identity_server': false });
  });
});
