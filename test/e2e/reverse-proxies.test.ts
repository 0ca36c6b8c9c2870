/**
 * The reverse-proxy configurations of docs/setup/sidecar.md (examples/nginx/threepid.conf and
 * examples/caddy/Caddyfile), each run by the real Debian server on loopback
 * in front of the module and a recording stand-in homeserver: each path
 * reaches the server the page says, and a real requestToken goes through.
 */
import { readFileSync } from 'node:fs';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { CADDY_TEMPLATE, setupCaddy, startCaddy } from '../support/caddy';
import { NGINX_TEMPLATE, setupNginx, startNginx } from '../support/nginx';
import { answeredBy, HOMESERVER_PATHS, SIDECAR_PATHS, startRecordingHomeserver, type RecordingHomeserver } from '../support/proxy-routes';
import { expectResponseMatchesSpec } from '../support/spec';
import { blocksOf } from '../support/doc-blocks';

interface Proxy {
  url: string;
  close(): Promise<void>;
}

type Start = (upstreams: { sidecarUrl: string; homeserverUrl: string }) => Promise<Proxy>;

describe.each<[string, string, string, Start, (url: URL) => string]>([
  // nginx's $host is the name without the port; Caddy passes the Host header on as it came.
  ['nginx', NGINX_TEMPLATE, 'nginx', (upstreams) => startNginx(setupNginx(), upstreams), (url) => url.hostname],
  ['Caddy', CADDY_TEMPLATE, 'caddy', (upstreams) => startCaddy(setupCaddy(), upstreams), (url) => url.host],
])('the %s configuration', (_name, template, fence, start, expectedHost) => {
  let dir: string;
  let sidecar: Running;
  let homeserver: RecordingHomeserver;
  let proxy: Proxy;

  beforeAll(async () => {
    dir = tempDir('threepid-proxy-e2e-');
    sidecar = await startModule({ database: { path: `${dir}/threepid.sqlite` }, trusted_proxies: ['127.0.0.1'] });
    homeserver = await startRecordingHomeserver();
    proxy = await start({ sidecarUrl: sidecar.url, homeserverUrl: homeserver.url });
  }, 600_000); // the first run may install the proxy

  afterAll(async () => {
    await proxy?.close();
    await homeserver?.close();
    await sidecar?.close();
    removeDir(dir);
  });

  it('is quoted in full in the sidecar setup page, so the docs show what the tests run', () => {
    const quoted = blocksOf('docs/setup/sidecar.md').filter((block) => block.lang === fence);
    expect(quoted.map((block) => block.text)).toEqual([readFileSync(template, 'utf8')]);
  });

  it('sends the module paths to the sidecar', async () => {
    for (const path of SIDECAR_PATHS) expect([path, await answeredBy(proxy.url, path)]).toEqual([path, 'sidecar']);
  });

  it('sends everything else, the internal API paths among them, to the homeserver, with X-Forwarded-For and the Host', async () => {
    for (const path of HOMESERVER_PATHS) expect([path, await answeredBy(proxy.url, path)]).toEqual([path, 'homeserver']);
    const last = homeserver.seen[homeserver.seen.length - 1];
    expect(last.path).toBe(HOMESERVER_PATHS[HOMESERVER_PATHS.length - 1]);
    expect(last.forwardedFor).toBe('127.0.0.1');
    expect(last.host).toBe(expectedHost(new URL(proxy.url)));
  });

  it('passes a real requestToken through to the module', async () => {
    const res = await post(`${proxy.url}/_matrix/client/v3/register/email/requestToken`, {
      client_secret: 'through_the_proxy',
      email: 'proxied@example.org',
      send_attempt: 1,
    });
    expect(res.status).toBe(200);
    expectResponseMatchesSpec('client-server/registration.yaml', '/register/email/requestToken', 'post', 200, res.body);
    const versions = (await (await fetch(`${proxy.url}/_matrix/client/versions`)).json()) as { unstable_features: Record<string, boolean> };
    expect(versions.unstable_features['m.require_identity_server']).toBe(false);
  });
});
