// Regression: a send whose deadline passed while its SMTP connection was
// still opening or waiting for the server's greeting lost its lane for good.
// The lane destroyed the socket and waited for nodemailer to fail the send,
// but nodemailer re-queued it and the lane cut every new connection, or (a
// close during the greeting) never answered at all. With all four lanes
// lost, every email waited for a lane until its deadline and was given up
// on, though its request had been answered 200. Now the lane settles the
// send itself at the deadline and goes back with a new transporter.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { createSmtpTransport } from '../../src/delivery/mail-transport';
import { eventually, queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * An SMTP server slow to greet (overloaded, or greet-delaying): until
 * `heal()` it takes connections and says nothing; from then on each new
 * connection reaches a real SMTP server.
 */
async function startSlowToGreet(sink: SmtpSink) {
  const sockets = new Set<Socket>();
  let healed = false;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (!healed) return;
    const upstream = connect(sink.port, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    heal: () => void (healed = true),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const message = (to: string) => ({ from: 'Example <noreply@example.org>', to, subject: 'Your code', text: 'code', html: '<p>code</p>' });

it('sends again on every lane once a server that did not greet in time greets promptly', async () => {
  const sink = await startSmtpSink();
  const smtp = await startSlowToGreet(sink);
  const transport = createSmtpTransport({ host: '127.0.0.1', port: smtp.port, forceTls: false, requireTransportSecurity: false, enableTls: false });
  try {
    const early = ['a', 'b', 'c', 'd'].map((name) => transport.send(message(`${name}@example.org`), AbortSignal.timeout(500)));
    for (const send of early) await expect(send).rejects.toThrow();
    smtp.heal();
    const later = ['e', 'f', 'g', 'h', 'i'].map((name) => transport.send(message(`${name}@example.org`), AbortSignal.timeout(20_000)));
    await Promise.all(later);
    expect(sink.messages.map((mail) => mail.to[0]).sort()).toEqual(['e', 'f', 'g', 'h', 'i'].map((name) => `${name}@example.org`));
  } finally {
    transport.close();
    await smtp.close();
    await sink.close();
  }
}, 60_000);

it('delivers every email it answered 200 for once the SMTP server greets promptly again', async () => {
  const sink = await startSmtpSink();
  const smtp = await startSlowToGreet(sink);
  const dir = tempDir('threepid-lane-');
  const dbPath = path.join(dir, 'threepid.sqlite');
  const hs = await startModule({
    database: { path: dbPath },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, max_attempts: 3 },
    outbox: { send_timeout: '2s', lease: '4s' },
  });
  const emails = ['lane0', 'lane1', 'lane2', 'lane3'].map((name) => `${name}@example.org`);
  // (PostgreSQL answers a count as a string.)
  const count = async (where: string) => Number((await queryDb<{ n: number | string }>(dbPath, `SELECT count(*) AS n FROM threepid_outbox WHERE channel = 'email' AND ${where}`))[0]!.n);
  try {
    for (const [i, email] of emails.entries()) {
      const answer = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: `lane-${i}`, email, send_attempt: 1 });
      expect(answer.status).toBe(200);
    }
    // Every lane's send passes its deadline while waiting for the greeting.
    await eventually(
      async () => (await count('attempts >= 1')) === 4,
      'all four first attempts to pass their deadline',
      30_000,
    );
    smtp.heal();
    const after = await post(`${hs.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'lane-after', email: 'after@example.org', send_attempt: 1 });
    expect(after.status).toBe(200);
    await eventually(
      async () => (await count("status = 'pending'")) === 0,
      'every email to be finished',
      60_000,
    );
    const statuses = await queryDb<{ status: string }>(dbPath, "SELECT status FROM threepid_outbox WHERE channel = 'email'");
    expect(statuses.map((row) => row.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    expect(sink.messages.map((mail) => mail.to[0]).sort()).toEqual([...emails, 'after@example.org'].sort());
  } finally {
    await hs.close();
    await smtp.close();
    await sink.close();
    removeDir(dir);
  }
}, 120_000);
