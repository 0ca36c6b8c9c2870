import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NGINX_TEMPLATE, renderNginxConfig } from '../support/nginx';
import { HOMESERVER_PATHS, SIDECAR_PATHS } from '../support/proxy-routes';

const ROOT = path.resolve(__dirname, '../..');
const template = readFileSync(NGINX_TEMPLATE, 'utf8');

/** The regex locations of the template, as JavaScript regexes (the same syntax for these). */
function regexLocations(): RegExp[] {
  return [...template.matchAll(/^\s*location ~ (\S+) \{/gm)].map((match) => new RegExp(match[1]));
}

describe('the nginx configuration (examples/nginx/threepid.conf)', () => {
  it('is quoted in full in the README, so the README shows what the tests run', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('```nginx\n' + template + '```');
  });

  it('sends the module paths to the sidecar and everything else to the homeserver', () => {
    const toSidecar = (requestPath: string) =>
      regexLocations().some((re) => re.test(requestPath)) ||
      requestPath.startsWith('/_threepid/client/') ||
      requestPath === '/_matrix/client/versions';
    for (const requestPath of SIDECAR_PATHS) expect([requestPath, toSidecar(requestPath)]).toEqual([requestPath, true]);
    for (const requestPath of HOMESERVER_PATHS) expect([requestPath, toSidecar(requestPath)]).toEqual([requestPath, false]);
    expect(template).toContain('location /_threepid/client/ {');
    expect(template).toContain('location = /_matrix/client/versions {');
    expect(template).not.toContain('/_threepid/v1'); // the internal API is never routed publicly
  });

  it('is rendered for the tests by changing only the three addresses', () => {
    const rendered = renderNginxConfig({ listen: 1001, sidecar: 1002, homeserver: 1003 });
    expect(rendered).toBe(
      template
        .replace('listen 127.0.0.1:8080;', 'listen 127.0.0.1:1001;')
        .replace('server 127.0.0.1:8090;', 'server 127.0.0.1:1002;')
        .replace('server 127.0.0.1:8008;', 'server 127.0.0.1:1003;'),
    );
  });
});
