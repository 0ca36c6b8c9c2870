/**
 * The default sender was `${app_name} <noreply@server>` written bare: a name
 * with a comma lost its first half ("Acme, Inc." became "Inc."), `Chat
 * <beta>` made `<beta>` the address, and parentheses a comment. And a
 * bidi override in the name turned the rest of every subject round. The
 * name is quoted, and control and format characters are refused.
 */
import { parseConfig } from '../../src/config';
import { parseSender } from '../../src/delivery/mime';

describe('the app name', () => {
  it.each(['Acme, Inc.', 'Chat <beta>', 'Example (beta)', 'Say "hi"', 'Back\\slash'])('%s stays the sender’s whole name, the address noreply@server', (name) => {
    const config = parseConfig({ server_name: 'example.org', email: { app_name: name } });
    const sender = parseSender(config.email.notifFrom);
    expect(sender?.address).toBe('noreply@example.org');
    const quoted = /^"((?:[^"\\]|\\.)*)" <noreply@example\.org>$/.exec(sender!.header);
    expect(quoted?.[1].replace(/\\(.)/g, '$1')).toBe(name);
  });

  it.each([
    ['email', '\u202eEvil'],
    ['email', 'Two\nLines'],
    ['sms', 'Chat\u200b'],
  ])('in %s refuses %j, naming the key', (section, name) => {
    expect(() => parseConfig({ [section]: { app_name: name } })).toThrow(new RegExp(`${section}\\.app_name: must not contain control`));
  });
});
