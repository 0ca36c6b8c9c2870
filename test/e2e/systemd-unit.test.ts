/**
 * examples/systemd/matrix-hs-threepid.service: checked by Debian's
 * `systemd-analyze verify` (syntax, every key known, the commands
 * executable) with this checkout's node and dist/cli.js in place of the
 * installed paths; its hardening scored by `systemd-analyze security`; and
 * its two command lines run, so the CLI takes the arguments the unit gives.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { removeDir, tempDir } from '../support/harness';
import { eventually, freePort } from '../support/e2e-utils';

const ROOT = path.resolve(__dirname, '../..');
const UNIT = path.join(ROOT, 'examples', 'systemd', 'matrix-hs-threepid.service');
const INSTALLED_CLI = '/opt/matrix-hs-threepid/node_modules/matrix-hs-threepid/dist/cli.js';
const INSTALLED_CONFIG = '/etc/matrix-hs-threepid/config.yaml';
const template = readFileSync(UNIT, 'utf8');

function setting(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]);
}

describe('the systemd unit (examples/systemd/matrix-hs-threepid.service)', () => {
  let dir: string;
  let unitFile: string;
  let configFile: string;

  beforeAll(() => {
    execFileSync('bash', [path.join(ROOT, 'test/support/ensure-debian-packages.sh'), 'systemd-analyze', 'systemd'], { stdio: 'pipe', timeout: 600_000 });
  }, 600_000);

  beforeEach(() => {
    dir = tempDir('threepid-systemd-');
    configFile = path.join(dir, 'config.yaml');
    unitFile = path.join(dir, 'matrix-hs-threepid.service');
    const rendered = template
      .split('/usr/bin/node ').join(`${process.execPath} `)
      .split(INSTALLED_CLI).join(path.join(ROOT, 'dist', 'cli.js'))
      .split(INSTALLED_CONFIG).join(configFile);
    writeFileSync(unitFile, rendered);
  });

  afterEach(() => removeDir(dir));

  it('is hardened as the README says', () => {
    for (const line of [
      'DynamicUser=yes',
      'StateDirectory=matrix-hs-threepid',
      'WorkingDirectory=%S/matrix-hs-threepid',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'SystemCallFilter=@system-service',
    ]) {
      expect(template.split('\n')).toContain(line);
    }
  });

  it('passes systemd-analyze verify without a warning', () => {
    const result = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ status: 0, output: '' });
    // The check can fail: a misspelt key is reported.
    const broken = path.join(dir, 'broken.service');
    writeFileSync(broken, readFileSync(unitFile, 'utf8').replace('ProtectSystem=strict', 'ProtectSytem=strict'));
    expect(spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' }).stderr).toContain("Unknown key 'ProtectSytem'");
  });

  it('scores as well hardened in systemd-analyze security (exposure under 2.0 of 10)', () => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', '--no-pager', unitFile], { encoding: 'utf8' });
    expect(result.stdout).toMatch(/Overall exposure level for matrix-hs-threepid\.service: 1\.\d/);
    expect(result.status).toBe(0);
  });

  it("runs its ExecStartPre (--check) and ExecStart command lines as the CLI's arguments", async () => {
    const port = await freePort();
    let internal = await freePort();
    while (internal === port) internal = await freePort();
    writeFileSync(
      configFile,
      toYaml({ listeners: { client: { port }, internal: { port: internal } }, public_baseurl: `http://127.0.0.1:${port}` }),
    );
    const rendered = readFileSync(unitFile, 'utf8');
    const [pre] = setting(rendered, 'ExecStartPre').map((line) => line.split(' '));
    const checked = spawnSync(pre[0], pre.slice(1), { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(checked.status).toBe(0);
    expect(checked.stdout).toContain(`config: ${configFile} is valid`);

    const [start] = setting(rendered, 'ExecStart').map((line) => line.split(' '));
    const child = spawn(start[0], start.slice(1), { cwd: dir, stdio: 'ignore', env: { PATH: process.env.PATH } });
    try {
      await eventually(() => fetch(`http://127.0.0.1:${internal}/health`).then((res) => res.ok, () => false), 'the service to answer /health', 15_000);
    } finally {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // KillSignal=SIGTERM
      expect(await gone).toBe(0);
    }
  });
});
