/**
 * examples/caddy/Caddyfile (the README's Caddy configuration), run by a real
 * Debian caddy on loopback in front of the module and a recording stand-in
 * homeserver: each path reaches the server the README says, and a real
 * requestToken goes through.
 */
import { readFileSync } from 'node:fs';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { CADDY_TEMPLATE, setupCaddy, startCaddy, type RunningCaddy } from '../support/caddy';
import { answeredBy, HOMESERVER_PATHS, SIDECAR_PATHS, startRecordingHomeserver, type RecordingHomeserver } from '../support/proxy-routes';
import { expectResponseMatchesSpec } from '../support/spec';

describe('the Caddy configuration (examples/caddy/Caddyfile)', () => {
  let dir: string;
  let sidecar: Running;
  let homeserver: RecordingHomeserver;
  let caddy: RunningCaddy;

  beforeAll(async () => {
    const binary = setupCaddy();
    dir = tempDir('threepid-caddy-e2e-');
    sidecar = await startModule({ database: { path: `${dir}/threepid.sqlite` }, trusted_proxies: ['127.0.0.1'] });
    homeserver = await startRecordingHomeserver();
    caddy = await startCaddy(binary, { sidecarUrl: sidecar.url, homeserverUrl: homeserver.url });
  }, 600_000); // the first run may install caddy

  afterAll(async () => {
    await caddy?.close();
    await homeserver?.close();
    await sidecar?.close();
    removeDir(dir);
  });

  it('is quoted in full in the README, so the README shows what the tests run', () => {
    const readme = readFileSync(`${__dirname}/../../README.md`, 'utf8');
    expect(readme).toContain('```caddy\n' + readFileSync(CADDY_TEMPLATE, 'utf8') + '```');
  });

  it('sends the module paths to the sidecar', async () => {
    for (const path of SIDECAR_PATHS) expect([path, await answeredBy(caddy.url, path)]).toEqual([path, 'sidecar']);
  });

  it('sends everything else, the internal API paths among them, to the homeserver, with X-Forwarded-For and the Host', async () => {
    for (const path of HOMESERVER_PATHS) expect([path, await answeredBy(caddy.url, path)]).toEqual([path, 'homeserver']);
    const last = homeserver.seen[homeserver.seen.length - 1];
    expect(last.path).toBe(HOMESERVER_PATHS[HOMESERVER_PATHS.length - 1]);
    expect(last.forwardedFor).toBe('127.0.0.1');
    expect(last.host).toBe(new URL(caddy.url).host);
  });

  it('passes a real requestToken through to the module', async () => {
    const res = await post(`${caddy.url}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'through_caddy',
      email: 'caddy@example.org',
      send_attempt: 1,
    });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec('client-server/registration.yaml', '/register/email/requestToken', 'post', 200, res.body);
    const versions = (await (await fetch(`${caddy.url}/_matrix/client/versions`)).json()) as { unstable_features: Record<string, boolean> };
    expect(versions.unstable_features['m.require_identity_server']).toBe(false);
  });
});
