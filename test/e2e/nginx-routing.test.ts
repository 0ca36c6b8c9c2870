/**
 * examples/nginx/threepid.conf (the README's nginx configuration), run by a
 * real Debian nginx on loopback in front of the module and a recording
 * stand-in homeserver: each path reaches the server the README says.
 */
import { readFileSync } from 'node:fs';
import { removeDir, startModule, tempDir, type Running } from '../support/harness';
import { NGINX_TEMPLATE, setupNginx, startNginx, type RunningNginx } from '../support/nginx';
import { answeredBy, HOMESERVER_PATHS, SIDECAR_PATHS, startRecordingHomeserver, type RecordingHomeserver } from '../support/proxy-routes';

describe('the nginx configuration (examples/nginx/threepid.conf)', () => {
  let dir: string;
  let sidecar: Running;
  let homeserver: RecordingHomeserver;
  let nginx: RunningNginx;

  beforeAll(async () => {
    const binary = setupNginx();
    dir = tempDir('threepid-nginx-e2e-');
    sidecar = await startModule({ database: { path: `${dir}/threepid.sqlite` }, trusted_proxies: ['127.0.0.1'] });
    homeserver = await startRecordingHomeserver();
    nginx = await startNginx(binary, { sidecarUrl: sidecar.url, homeserverUrl: homeserver.url });
  }, 600_000); // the first run may install nginx

  afterAll(async () => {
    await nginx?.close();
    await homeserver?.close();
    await sidecar?.close();
    removeDir(dir);
  });

  it('is quoted in full in the README, so the README shows what the tests run', () => {
    const readme = readFileSync(`${__dirname}/../../README.md`, 'utf8');
    expect(readme).toContain('```nginx\n' + readFileSync(NGINX_TEMPLATE, 'utf8') + '```');
  });

  it('sends the module paths to the sidecar', async () => {
    for (const path of SIDECAR_PATHS) expect([path, await answeredBy(nginx.url, path)]).toEqual([path, 'sidecar']);
  });

  it('sends everything else, the internal API paths among them, to the homeserver, with X-Forwarded-For and the Host', async () => {
    for (const path of HOMESERVER_PATHS) expect([path, await answeredBy(nginx.url, path)]).toEqual([path, 'homeserver']);
    const last = homeserver.seen[homeserver.seen.length - 1];
    expect(last.path).toBe(HOMESERVER_PATHS[HOMESERVER_PATHS.length - 1]);
    expect(last.forwardedFor).toBe('127.0.0.1');
    expect(last.host).toBe(new URL(nginx.url).hostname);
  });
});
