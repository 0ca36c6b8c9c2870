import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PermanentDeliveryError } from '../../../src/delivery/errors';
import { ThreadedMailTransport } from '../../../src/delivery/smtp-thread';
import { freePort } from '../../support/e2e-utils';
import { CapturingLogger, removeDir, tempDir } from '../../support/harness';
import { startSmtpSink, validationMail, type SmtpSink } from '../../support/smtp';

const settings = (port: number) => ({ host: '127.0.0.1', port, requireTransportSecurity: false, forceTls: false });

const message = validationMail;

describe('ThreadedMailTransport (SMTP on a worker thread)', () => {
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close();
  });

  async function sinkAndTransport(options: { reject?: 550 | 451 } = {}): Promise<{ sink: SmtpSink; transport: ThreadedMailTransport }> {
    const sink = await startSmtpSink(options);
    open.push(sink);
    const transport = ThreadedMailTransport.create(settings(sink.port), new CapturingLogger());
    if (!transport) throw new Error('no compiled thread entry: dist/ is built by the test setup');
    open.push(transport);
    return { sink, transport };
  }

  it('delivers messages whole through the thread, several at once', async () => {
    const { sink, transport } = await sinkAndTransport();
    await Promise.all(['a@example.org', 'b@example.org', 'c@example.org'].map((to) => transport.send(message(to))));
    const mails = await sink.waitFor(3);
    expect(mails.map((mail) => mail.to[0]).sort()).toEqual(['a@example.org', 'b@example.org', 'c@example.org']);
    expect(mails[0].subject).toBe('Validate your address');
    expect(mails[0].text).toContain('https://example.org/validate?token=abc');
    expect(mails[0].raw).toMatch(/^Message-ID: <[a-z]\.example\.org@example\.org>\r?$/im);
  });

  it('brings a 550 to RCPT back as a PermanentDeliveryError', async () => {
    const { transport } = await sinkAndTransport({ reject: 550 });
    const err = await transport.send(message('gone@example.org')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect((err as Error).message).toBe('SMTP server refused the message (550)');
  });

  it('brings a 451 back as a temporary error that keeps its response code', async () => {
    const { transport } = await sinkAndTransport({ reject: 451 });
    const err = await transport.send(message('later@example.org')).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err).toMatchObject({ responseCode: 451 });
  });

  it('brings a refused connection back as a temporary error with its code', async () => {
    const transport = ThreadedMailTransport.create(settings(await freePort()), new CapturingLogger());
    if (!transport) throw new Error('no compiled thread entry');
    open.push(transport);
    const err = await transport.send(message('x@example.org')).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(err).toMatchObject({ code: 'ESOCKET' });
  });

  it('refuses to send once closed', async () => {
    const { transport } = await sinkAndTransport();
    await transport.send(message('first@example.org'));
    transport.close();
    await expect(transport.send(message('second@example.org'))).rejects.toThrow('mail transport closed');
  });

  it('logs a thread that cannot start, fails its messages as temporary, and after three tries sends from the main thread', async () => {
    const sink = await startSmtpSink();
    open.push(sink);
    const dir = tempDir('threepid-smtp-thread-');
    open.push({ close: () => removeDir(dir) });
    const broken = path.join(dir, 'broken-thread.js');
    writeFileSync(broken, "throw new Error('cannot load');\n");
    const logger = new CapturingLogger();
    const transport = ThreadedMailTransport.create(settings(sink.port), logger, broken);
    if (!transport) throw new Error('no transport');
    open.push(transport);
    for (let i = 0; i < 3; i++) {
      const err = await transport.send(message(`try${i}@example.org`)).catch((e: unknown) => e);
      expect(err).not.toBeInstanceOf(PermanentDeliveryError);
      expect(err).toMatchObject({ code: 'ETHREAD' });
    }
    expect(logger.lines.filter((line) => line.message === 'SMTP thread ended; its messages will be retried')).toHaveLength(3);
    expect(logger.lines.some((line) => line.message === 'SMTP thread cannot start; sending from the main thread instead')).toBe(true);
    await transport.send(message('fallback@example.org'));
    const [mail] = await sink.waitFor(1);
    expect(mail.to).toEqual(['fallback@example.org']);
  });

  it('answers the messages in flight when the thread dies after close()', async () => {
    const dir = tempDir('threepid-smtp-thread-');
    open.push({ close: () => removeDir(dir) });
    // A thread that takes messages, never answers them, and dies when told to close.
    const silent = path.join(dir, 'silent-thread.js');
    writeFileSync(silent, "require('node:worker_threads').parentPort.on('message', (m) => { if (m.type === 'close') process.exit(3); });\n");
    const transport = ThreadedMailTransport.create(settings(await freePort()), new CapturingLogger(), silent);
    if (!transport) throw new Error('no transport');
    // Posted before close(): messages to a thread arrive in order, so it has
    // this one when it is told to close.
    const sending = transport.send(message('in-flight@example.org'));
    transport.close();
    const outcome = await Promise.race([
      sending.then(() => 'sent', (err: unknown) => err),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
    ]);
    expect(outcome).toMatchObject({ code: 'ETHREAD' });
  });
});
