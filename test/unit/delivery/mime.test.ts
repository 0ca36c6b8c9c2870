import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { composeAlternative, parseSender } from '../../../src/delivery/mime';
import type { MailMessage } from '../../../src/delivery/mail-message';

const LINK = 'https://matrix.example.org/_threepid/client/v1/email/validate?token=AAAAAAAAAAAAAAAAAAAAAA&client_secret=a.long_secret-value=1&sid=BBBBBBBBBBBBBBBBBBBBBB';

const message = (overrides: Partial<MailMessage> = {}): MailMessage => ({
  messageId: '<outbox-id@example.org>',
  from: 'Example <noreply@example.org>',
  to: 'alice@example.com',
  subject: 'Confirm your email address',
  text: `Hello,\n\nOpen this link to confirm it:\n\n${LINK}\n\n-- Example\n`,
  html: `<p>Hello,</p>\n<p><a href="${LINK}">Confirm</a></p>\n`,
  ...overrides,
});

function compose(m: MailMessage): Buffer {
  const sender = parseSender(m.from);
  if (!sender) throw new Error('sender not parsed');
  const raw = composeAlternative(m, sender, new Date('2026-11-25T03:04:05Z'), '0123456789abcdef01234567');
  if (!raw) throw new Error('not composed');
  return raw;
}

describe('composeAlternative', () => {
  it('is read back whole by a mail parser: headers, both parts, the link unbroken', async () => {
    const raw = compose(message());
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ address: 'noreply@example.org', name: 'Example' }]);
    expect(parsed.to).toMatchObject({ value: [{ address: 'alice@example.com', name: '' }] });
    expect(parsed.subject).toBe('Confirm your email address');
    expect(parsed.messageId).toBe('<outbox-id@example.org>');
    expect(parsed.date?.toISOString()).toBe('2026-11-25T03:04:05.000Z');
    expect(parsed.text).toBe(message().text);
    expect(parsed.html).toBe(message().html);
    expect(parsed.text).toContain(LINK);
  });

  it('keeps every line within 78 characters and ends every line with CRLF', () => {
    const raw = compose(message({ text: `${'word '.repeat(60)}\n${LINK}${LINK}\n`, subject: 'A subject '.repeat(12) })).toString('utf8');
    const lines = raw.split('\r\n');
    expect(lines.every((line) => line.length <= 78)).toBe(true);
    expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it.each([
    ['"Émile <chef>" <noreply@example.org>', 'Émile <chef>'],
    ['"Grüße (Support), Inc." <noreply@example.org>', 'Grüße (Support), Inc.'],
    ['"Ünïcödé; \\"quoted\\" @ name" <noreply@example.org>', 'Ünïcödé; "quoted" @ name'],
  ])('keeps a non-ASCII display name whole, specials and all: %s', async (from, name) => {
    const parsed = await simpleParser(compose(message({ from })));
    expect(parsed.from?.value).toEqual([{ address: 'noreply@example.org', name }]);
    // As nodemailer's own composer gives it.
    const reference = await simpleParser(await new MailComposer(message({ from })).compile().build());
    expect(reference.from?.value).toEqual(parsed.from?.value);
  });

  it('encodes text that is not ASCII: subject, sender name and bodies', async () => {
    const m = message({
      from: 'Grüße Server <noreply@example.org>',
      subject: 'Bestätige deine Adresse ✓',
      text: 'Straße\nÜbung ✓\n',
      html: '<p>Straße ✓</p>',
    });
    const raw = compose(m);
    expect(raw.toString('utf8')).toMatch(/^[\x00-\x7f]*$/); // 7-bit clean
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ address: 'noreply@example.org', name: 'Grüße Server' }]);
    expect(parsed.subject).toBe('Bestätige deine Adresse ✓');
    expect(parsed.text).toBe('Straße\nÜbung ✓\n');
    expect(parsed.html).toBe('<p>Straße ✓</p>');
  });

  it('cannot be made to carry another header through the subject or the sender name', async () => {
    const raw = compose(
      message({ subject: 'Hello\r\nBcc: victim@example.net', from: '"Evil\r\nBcc: x@example.net" <noreply@example.org>' }),
    );
    const parsed = await simpleParser(raw);
    expect(parsed.bcc).toBeUndefined();
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.subject).toBe('Hello Bcc: victim@example.net');
  });

  it('quotes a sender name with special characters', async () => {
    const parsed = await simpleParser(compose(message({ from: '"Example, Inc. (support)" <noreply@example.org>' })));
    expect(parsed.from?.value).toEqual([{ address: 'noreply@example.org', name: 'Example, Inc. (support)' }]);
  });

  it('leaves an address that is not plain ASCII to the general composer', () => {
    const sender = parseSender('Example <noreply@example.org>');
    if (!sender) throw new Error('sender not parsed');
    expect(composeAlternative(message({ to: 'jörg@bücher.example' }), sender, new Date(), 'ab')).toBeUndefined();
    expect(parseSender('Example <nörply@example.org>')).toBeUndefined();
    expect(parseSender('a@example.org, b@example.org')).toBeUndefined();
  });

  it('uses a boundary quoted-printable text cannot contain', () => {
    const raw = compose(message({ text: '--=_threepid_0123456789abcdef01234567\n', html: '=_threepid_' })).toString('utf8');
    // The body's copy of the boundary is encoded (= becomes =3D), so the parts still split in three places.
    expect(raw.split('\r\n--=_threepid_0123456789abcdef01234567')).toHaveLength(4);
  });
});
