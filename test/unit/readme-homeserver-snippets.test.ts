import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config';

const README = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

/** The YAML blocks of "Which homeserver gets what" that the text before them calls the sidecar's side. */
function sidecarSnippets(): Array<{ heading: string; yaml: string }> {
  const start = README.indexOf('## Which homeserver gets what');
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end);
  const snippets: Array<{ heading: string; yaml: string }> = [];
  let heading = '';
  let textSinceLastBlock = '';
  for (const part of section.split(/(```yaml\n[\s\S]*?```)/)) {
    if (part.startsWith('```yaml')) {
      if (/Sidecar side/.test(textSinceLastBlock)) snippets.push({ heading, yaml: part.slice('```yaml\n'.length, -3) });
      textSinceLastBlock = '';
    } else {
      heading = [...part.matchAll(/^### (.+)$/gm)].pop()?.[1] ?? heading;
      textSinceLastBlock = part;
    }
  }
  return snippets;
}

describe("README's config snippets for each homeserver", () => {
  it('has a sidecar snippet for Synapse, Dendrite and a homeserver that calls the internal API', () => {
    expect(sidecarSnippets().map((snippet) => snippet.heading)).toEqual([
      'Synapse',
      'Dendrite',
      'Any homeserver that calls the internal API (sidecar)',
    ]);
  });

  it.each(sidecarSnippets().map((snippet) => [snippet.heading, snippet.yaml]))('the %s snippet is a valid sidecar config', (_heading, yaml) => {
    expect(() => parseConfig(parseYaml(yaml))).not.toThrow();
  });

  it.each(sidecarSnippets().map((snippet) => [snippet.heading, snippet.yaml]))(
    'the %s snippet listens where the callers it allows can reach it',
    (_heading, yaml) => {
      const config = parseConfig(parseYaml(yaml));
      const remoteCallers = config.identityServiceApi.allowedCallers.filter((cidr) => !/^(127\.|::1\/)/.test(cidr));
      if (config.identityServiceApi.enabled && remoteCallers.length > 0) {
        expect(['127.0.0.1', '::1', 'localhost']).not.toContain(config.listeners.internal.host);
      }
    },
  );

  it('the Synapse snippet turns email off and keeps phone numbers on', () => {
    const synapse = parseConfig(parseYaml(sidecarSnippets()[0].yaml));
    expect(synapse.email.enabled).toBe(false);
    expect(synapse.sms.enabled).toBe(true);
    expect(synapse.identityServiceApi.enabled).toBe(true);
    // Registration by phone is open to anyone: texts go only where the operator says.
    expect(synapse.sms.allowedCountries.length).toBeGreaterThan(0);
  });

  it("the Synapse homeserver snippet sets what the tested Synapse runs with: registration on, the delegate, a 3PID required", () => {
    const start = README.indexOf('### Synapse');
    const block = /```yaml\n([\s\S]*?)```/.exec(README.slice(start))![1];
    const synapse = parseYaml(block) as Record<string, unknown>;
    expect(synapse).toMatchObject({
      enable_registration: true,
      account_threepid_delegates: { msisdn: expect.stringMatching(/^http:\/\//) },
      registrations_require_3pid: ['msisdn'],
    });
  });
});
