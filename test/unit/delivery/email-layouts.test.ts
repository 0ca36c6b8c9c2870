import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Mustache from 'mustache';
import { EmailSender, expiryView, type EmailSenderSettings } from '../../../src/delivery/email-sender';
import type { MailMessage } from '../../../src/delivery/mail-message';
import type { MailTransport } from '../../../src/delivery/mail-transport';
import { escapeHtml } from '../../../src/delivery/message-format';
import { RenderedOnce } from '../../../src/delivery/rendered-once';
import { Templates } from '../../../src/delivery/templates';
import { removeDir, tempDir } from '../../support/harness';

// Emails are rendered once per template and language, and each message
// fills its link in: every message must still be what rendering it whole gives.

const LINKS = [
  'https://example.org/_matrix/client/unstable/registration/email/submit_token?token=abc&client_secret=s3cr%2Ft&sid=XYZ',
  `https://example.org/p?q=<b>"it's"</b>&x=\`y\`=/z`,
  'https://example.org/plain',
];
const TEMPLATES = ['registration', 'password_reset', 'add_threepid'] as const;
const BRAND = { app_name: 'Ex & <Co>', server_name: 'example.org', accent_color: '#0b57d0', support_url: 'https://example.org/help?a=1&b=2' };

function settings(subjects: EmailSenderSettings['email']['subjects'] = {}): EmailSenderSettings {
  return { serverName: 'example.org', email: { notifFrom: 'Ex <noreply@example.org>', defaultLanguage: 'en', validationTokenLifetimeMs: 3_600_000, subjects } };
}

/** A transport that keeps what it is given. */
function capturing(): MailTransport & { sent: MailMessage[] } {
  const sent: MailMessage[] = [];
  return { sent, send: async (message) => void sent.push(message), close: () => undefined };
}

/** The message as rendering each part whole gives it. */
function renderedWhole(templates: Templates, template: string, language: string, link: string) {
  const view = { ...BRAND, ...expiryView(3_600_000), link };
  const text = templates.renderWithLanguage(`email/${template}.txt`, language, view);
  return {
    subject: templates.render(`email/${template}.subject.txt`, language, view).trim(),
    text: text.text,
    html: templates.render(`email/${template}.html`, language, view),
    language: text.language,
  };
}

async function sentBy(sender: EmailSender, transport: ReturnType<typeof capturing>, template: (typeof TEMPLATES)[number], language: string, link: string) {
  await sender.send({ template, to: 'alice@example.com', link, language } as Parameters<EmailSender['send']>[0], 'id');
  const { subject, text, html, language: tag } = transport.sent.at(-1)!;
  return { subject, text, html, language: tag };
}

describe('emails rendered once per template and language', () => {
  it('are, for every message, what rendering it whole gives, in every shipped language', async () => {
    const templates = new Templates();
    const transport = capturing();
    const sender = new EmailSender(settings(), BRAND, templates, transport);
    for (const language of [...templates.languages, 'en-GB', 'zz']) {
      for (const template of TEMPLATES) {
        for (const link of LINKS) {
          expect(await sentBy(sender, transport, template, language, link)).toEqual(renderedWhole(templates, template, language, link));
        }
      }
    }
  });

  it("are, with an operator's layouts that write the link as it is or escaped, what rendering whole gives", async () => {
    const dir = tempDir();
    try {
      mkdirSync(path.join(dir, 'email'));
      writeFileSync(path.join(dir, 'email', 'registration.html'), '<p>{{#t}}email.greeting{{/t}}</p><a href="{{link}}">{{{link}}}</a> {{&link}}\n');
      writeFileSync(path.join(dir, 'email', 'registration.subject.txt'), 'Open {{link}} on {{app_name}}\n');
      const templates = new Templates(dir);
      const transport = capturing();
      const sender = new EmailSender(settings(), BRAND, templates, transport);
      for (const link of LINKS) {
        const sent = await sentBy(sender, transport, 'registration', 'en', link);
        expect(sent).toEqual(renderedWhole(templates, 'registration', 'en', link));
        expect(sent.html).toContain(`href="${Mustache.escape(link)}"`);
        expect(sent.html).toContain(`>${link}</a> ${link}\n`);
        expect(sent.subject).toBe(`Open ${link} on Ex & <Co>`);
      }
    } finally {
      removeDir(dir);
    }
  });

  it('take a subject the config sets in the default language, and the subject layout in others', async () => {
    const templates = new Templates();
    const transport = capturing();
    const sender = new EmailSender(settings({ registration: 'Confirm it' }), BRAND, templates, transport);
    expect((await sentBy(sender, transport, 'registration', 'en', LINKS[0])).subject).toBe('Confirm it');
    expect((await sentBy(sender, transport, 'registration', 'de', LINKS[0])).subject).toBe(renderedWhole(templates, 'registration', 'de', LINKS[0]).subject);
  });
});

describe('RenderedOnce', () => {
  it('escapes each hole as the renderer did: as it is, as Mustache does, as the catalogs do', () => {
    const render = (value: string) => `${value}|${Mustache.escape(value)}|${escapeHtml(value)}`;
    const once = RenderedOnce.of(render, LINKS[1])!;
    for (const link of LINKS) expect(once.with(link)).toBe(render(link));
  });

  it('is made for every shipped email layout in every language (none is rendered whole per message)', () => {
    const templates = new Templates();
    for (const language of templates.languages) {
      for (const template of TEMPLATES) {
        for (const part of ['subject.txt', 'txt', 'html']) {
          const render = (link: string) => templates.render(`email/${template}.${part}`, language, { ...BRAND, ...expiryView(60_000), link });
          expect([language, template, part, RenderedOnce.of(render, LINKS[1]) !== undefined]).toEqual([language, template, part, true]);
        }
      }
    }
  });

  it('is not made for a layout that changes the value rather than escape it (it is rendered whole instead)', () => {
    expect(RenderedOnce.of((value) => value.toUpperCase(), LINKS[1])).toBeUndefined();
    expect(RenderedOnce.of((value) => value.slice(0, 8), LINKS[1])).toBeUndefined();
  });
});
