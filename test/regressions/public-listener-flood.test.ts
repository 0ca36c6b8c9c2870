// Regression: idle sockets on the public listener starved the internal one.
// About 20,000 sockets, each holding half a request header, used up the
// process's file descriptors, and while they stayed open the homeserver's
// calls to the internal listener (/health, /ready, the JWT API) timed out;
// idle sockets were closed only after about 90 s. The public listener now has
// a connection cap (total and per client IP) and a reverse proxy's header and
// keep-alive timeouts; the internal listener keeps answering while it is full.
//
// This runs the real sidecar (dist/cli.js) with small numbers: a cap of 50,
// 60 sockets, all on loopback.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { RawConfig } from '../../src/config';
import { eventually } from '../support/e2e-utils';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { internalToken, removeDir, SHARED_SECRET, tempDir } from '../support/harness';

const HALF_A_HEADER = 'POST /_matrix/client/v3/register/email/requestToken HTTP/1.1\r\nHost: x\r\n';


let dir: string;
const sidecars: SidecarProcess[] = [];
const sockets: Socket[] = [];

beforeEach(() => {
  dir = tempDir('threepid-flood-');
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const sidecar of sidecars.splice(0)) await sidecar.stop();
  removeDir(dir);
});

function startSidecar(client: Record<string, unknown>, extra: RawConfig = {}): Promise<SidecarProcess> {
  return startSidecarProcess(dir, { homeserver: { shared_secret: SHARED_SECRET }, ...extra }, client).then((sidecar) => {
    sidecars.push(sidecar);
    return sidecar;
  });
}

/**
 * A status, or 0 when the connection failed or no answer came within 5 s.
 * One connection per request, closed after it (no keep-alive pool), so that
 * the test's own requests hold no socket the caps would count.
 */
function get(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: init.method ?? 'GET', headers: { ...init.headers, connection: 'close' }, agent: false, timeout: 5_000 });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(init.body);
  });
}

/** What each socket received from the server. */
const received = new WeakMap<Socket, string>();

/**
 * A socket that has sent `data` (maybe nothing) and waits, reading whatever
 * comes (so that it sees the server's FIN): `closed` turns true when the
 * server closes it.
 */
async function openSocket(sidecar: SidecarProcess, data: string): Promise<Socket> {
  const { hostname, port } = new URL(sidecar.url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  socket.on('error', () => {});
  received.set(socket, '');
  socket.setEncoding('utf8').on('data', (chunk: string) => received.set(socket, received.get(socket) + chunk));
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  if (!socket.closed && data) socket.write(data);
  return socket;
}

/** The internal listener's calls the homeserver makes: all must answer while the public side is full. */
async function expectInternalAnswers(sidecar: SidecarProcess): Promise<void> {
  expect(await get(`${sidecar.internalUrl}/health`)).toBe(200);
  expect(await get(`${sidecar.internalUrl}/ready`)).toBe(200);
  const validated = await get(`${sidecar.internalUrl}/_threepid/v1/sessions/validated`, {
    method: 'POST',
    headers: { authorization: `Bearer ${internalToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sid: 'nosuchsession', client_secret: 'secret' }),
  });
  expect(validated).toBe(404);
}

it('closes sockets over max_connections at once, keeps the internal listener answering, and recovers', async () => {
  const sidecar = await startSidecar({ max_connections: 50, max_connections_per_ip: 0, header_timeout: '30s', request_timeout: '60s' });
  const held: Array<Socket> = [];
  for (let i = 0; i < 60; i++) held.push(await openSocket(sidecar, HALF_A_HEADER));

  // The ten over the cap are closed by the server; the fifty under it stay open.
  await eventually(() => held.filter((s) => s.closed).length === 10, 'the sockets over the cap to be closed');
  expect(held.slice(0, 50).every((s) => !s.closed)).toBe(true);
  expect(await get(`${sidecar.url}/_matrix/client/versions`)).toBe(0);
  await expectInternalAnswers(sidecar);

  // Once the flood lets go, the public listener serves again.
  for (const socket of held) socket.destroy();
  await eventually(async () => (await get(`${sidecar.url}/_matrix/client/versions`)) === 200, 'the public listener to recover');
});

it('closes sockets over max_connections_per_ip, but not from a trusted proxy', async () => {
  const limited = await startSidecar({ max_connections: 50, max_connections_per_ip: 5, header_timeout: '30s', request_timeout: '60s' });
  const held: Array<Socket> = [];
  for (let i = 0; i < 8; i++) held.push(await openSocket(limited, HALF_A_HEADER));
  await eventually(() => held.filter((s) => s.closed).length === 3, 'the sockets over the per-IP cap to be closed');
  expect(held.slice(0, 5).every((s) => !s.closed)).toBe(true);
  await expectInternalAnswers(limited);
  for (const socket of held) socket.destroy();
  await eventually(async () => (await get(`${limited.url}/_matrix/client/versions`)) === 200, 'the public listener to recover');

  await limited.stop();
  const proxied = await startSidecar(
    { max_connections: 50, max_connections_per_ip: 5, header_timeout: '30s', request_timeout: '60s' },
    { trusted_proxies: ['127.0.0.1'] },
  );
  const fromProxy: Array<Socket> = [];
  for (let i = 0; i < 8; i++) fromProxy.push(await openSocket(proxied, HALF_A_HEADER));
  expect(await get(`${proxied.url}/_matrix/client/versions`)).toBe(200);
  expect(fromProxy.every((s) => !s.closed)).toBe(true);
});

it('closes a socket that sends half a header, or nothing, after header_timeout with a 408', async () => {
  const sidecar = await startSidecar({ header_timeout: '1s', request_timeout: '2s' });
  const half = await openSocket(sidecar, HALF_A_HEADER);
  const silent = await openSocket(sidecar, '');
  // Well under the ~90 s such a socket used to be held for.
  await eventually(() => half.closed && silent.closed, 'the idle sockets to be closed', 8_000);
  expect(received.get(half)).toMatch(/^HTTP\/1\.1 408 /);
  expect(received.get(silent)).toMatch(/^HTTP\/1\.1 408 /);
});
