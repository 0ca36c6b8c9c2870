/**
 * Texts took the server's name from `email.app_name`, so a deployment with
 * email disabled configured the SMS name under `email`. `sms.app_name` names
 * it; without it, `email.app_name` still does, so existing configs send the
 * same text.
 */
import { parseConfig } from '../../src/config';
import { SmsSender, type SmsMessage } from '../../src/delivery/sms-senders';
import { Templates } from '../../src/delivery/templates';

async function textSent(raw: Record<string, unknown>): Promise<string> {
  const sent: SmsMessage[] = [];
  const config = parseConfig({ public_baseurl: 'https://matrix.example.org', ...raw });
  await new SmsSender(config, new Templates(), { send: async (message) => void sent.push(message) }).send({ to: '447911123456', code: '123456' });
  return sent[0].text;
}

describe('the name a text gives the server', () => {
  it('is sms.app_name when set', async () => {
    const text = await textSent({ email: { app_name: 'Mail Name', enabled: false }, sms: { app_name: 'Text Name' } });
    expect(text).toContain('Text Name');
    expect(text).not.toContain('Mail Name');
  });

  it('is email.app_name without it, as before', async () => {
    expect(parseConfig({ email: { app_name: 'Mail Name' } }).sms.appName).toBe('Mail Name');
    expect(await textSent({ email: { app_name: 'Mail Name' } })).toContain('Mail Name');
  });
});
