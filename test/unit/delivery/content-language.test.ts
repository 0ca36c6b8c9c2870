import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { MailMessage } from '../../../src/delivery/mail-message';
import { createFileTransport } from '../../../src/delivery/mail-transport';
import { composeAlternative, parseSender } from '../../../src/delivery/mime';
import { CapturingLogger, removeDir, tempDir } from '../../support/harness';

const message: MailMessage = {
  messageId: '<outbox-id@example.org>',
  from: 'Beispiel <noreply@example.org>',
  to: 'alice@example.com',
  subject: 'Bestätigen Sie Ihre E-Mail-Adresse',
  text: 'Hallo,\n',
  html: '<html lang="de"><p>Hallo,</p></html>\n',
  language: 'de',
};

describe('Content-Language', () => {
  it('is a header of the message composed directly', async () => {
    const raw = composeAlternative(message, parseSender(message.from)!, new Date(), '00ff00ff00ff00ff00ff00ff')!;
    expect(raw.toString('utf8')).toMatch(/\r\nContent-Language: de\r\n/);
    expect((await simpleParser(raw)).headers.get('content-language')).toBe('de');
  });

  it('is a header of the message nodemailer composes (the development files)', async () => {
    const dir = tempDir();
    try {
      const transport = createFileTransport(dir, new CapturingLogger());
      await transport.send(message);
      transport.close();
      const eml = readdirSync(dir).find((name) => name.endsWith('.eml'))!;
      const parsed = await simpleParser(readFileSync(path.join(dir, eml)));
      expect(parsed.headers.get('content-language')).toBe('de');
    } finally {
      removeDir(dir);
    }
  });

  it('is left out when the message names no language', () => {
    const { language: _none, ...withoutLanguage } = message;
    const raw = composeAlternative(withoutLanguage, parseSender(message.from)!, new Date(), '00ff00ff00ff00ff00ff00ff')!;
    expect(raw.toString('utf8')).not.toMatch(/Content-Language/i);
  });
});
