import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../src/config';
import { blocksChecked, type DocBlock } from '../../support/doc-blocks';

/** The secrets the pages say come from the environment. */
const SECRETS = { MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN: 'twilio-token', MATRIX_HS_THREEPID_SHARED_SECRET: 'x'.repeat(32) };

/** The sidecar's configuration on each homeserver's setup page. */
const SETUP_PAGES = { Synapse: 'docs/setup/synapse.md', Dendrite: 'docs/setup/dendrite.md', 'a homeserver that calls the internal API': 'docs/setup/sidecar.md' };

function sidecarSnippet(page: string): DocBlock {
  const snippets = blocksChecked('sidecar-config').filter((block) => block.file === page);
  expect(snippets).toHaveLength(1);
  return snippets[0];
}

describe("the setup pages' config snippets for each homeserver", () => {
  it.each(Object.entries(SETUP_PAGES))('the %s page has one sidecar snippet, after the words "Sidecar side"', (_name, page) => {
    expect(sidecarSnippet(page).before).toMatch(/Sidecar side/);
  });

  it.each(Object.entries(SETUP_PAGES))('the %s snippet listens where the callers it allows can reach it', (_name, page) => {
    const config = parseConfig(parseYaml(sidecarSnippet(page).text), SECRETS);
    const remoteCallers = config.identityServiceApi.allowedCallers.filter((cidr) => !/^(127\.|::1\/)/.test(cidr));
    if (config.identityServiceApi.enabled && remoteCallers.length > 0) {
      expect(['127.0.0.1', '::1', 'localhost']).not.toContain(config.listeners.internal.host);
    }
  });

  it('the Synapse snippet turns email off and keeps phone numbers on', () => {
    const synapse = parseConfig(parseYaml(sidecarSnippet(SETUP_PAGES.Synapse).text), SECRETS);
    expect(synapse.email.enabled).toBe(false);
    expect(synapse.sms.enabled).toBe(true);
    expect(synapse.identityServiceApi.enabled).toBe(true);
    // Registration by phone is open to anyone: texts go only where the operator says.
    expect(synapse.sms.allowedCountries.length).toBeGreaterThan(0);
  });

  it("the Synapse homeserver snippet sets what the tested Synapse runs with: registration on, the delegate, a 3PID required", () => {
    const [block] = blocksChecked('homeserver-config').filter((b) => b.argument === 'synapse');
    expect(block.file).toBe(SETUP_PAGES.Synapse);
    expect(parseYaml(block.text)).toMatchObject({
      enable_registration: true,
      account_threepid_delegates: { msisdn: expect.stringMatching(/^http:\/\//) },
      registrations_require_3pid: ['msisdn'],
    });
  });
});
