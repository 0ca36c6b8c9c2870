// Regression: a send the SMTP server had answered 250 was recorded as a
// temporary failure when the module's event loop was busy at its deadline.
// The SMTP thread had already posted "sent", but the deadline timer ran
// first in the stalled loop, the worker decided alone that the send had not
// ended, and the message was sent again on its retry. Now the deadline asks
// the thread to abort and takes its answer: a send that had finished is sent.
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { OutboxWorker, type DeliveryOutcome } from '../../src/delivery/outbox-worker';
import { createSmtpTransport } from '../../src/delivery/mail-transport';
import { ThreadedMailTransport } from '../../src/delivery/smtp-thread';
import { Keyring } from '../../src/keyring';
import { threadEntryFile } from '../../src/package-files';
import { AesGcmSealer } from '../../src/store/sealing';
import type { Database } from '../../src/store/schema';
import { Store } from '../../src/store/store';
import { CapturingLogger, FakeClock, removeDir, tempDir } from '../support/harness';
import { openTestDatabase } from '../support/postgres';
import { SeededRandom } from '../support/seeded-random';

const SEND_TIMEOUT_MS = 1_500;

/**
 * A plain SMTP server that runs `onAccepted` right after it has written
 * "250" for a message's data: the hook blocks this (the module's) thread.
 */
async function startSmtp(onAccepted: () => void) {
  const sockets = new Set<Socket>();
  const accepted: string[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.write('220 blocking.test ESMTP\r\n');
    let buffer = '';
    let inData = false;
    let recipient = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          accepted.push(recipient);
          socket.write('250 2.0.0 queued\r\n');
          onAccepted();
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 blocking.test\r\n');
        else if (verb === 'RCPT') {
          recipient = /<([^>]*)>/.exec(line)?.[1] ?? '';
          socket.write('250 2.1.5 ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go on\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a send answered 250 while the event loop is busy at its deadline', () => {
  let dir: string;
  let db: Kysely<Database>;
  let store: Store;

  beforeEach(async () => {
    dir = tempDir('threepid-busy-deadline-');
    let engine: 'sqlite' | 'postgres';
    ({ db, engine } = await openTestDatabase(dir));
    store = new Store(db, engine, new AesGcmSealer(Keyring.ephemeral()));
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  type Side = 'on the SMTP thread' | 'on the main thread';

  it.each<Side>(['on the SMTP thread', 'on the main thread'])('is recorded as sent, and not sent again (%s)', async (side) => {
    const realEntry = threadEntryFile('background');
    if (!realEntry) throw new Error('no compiled thread entry: dist/ is built by the test setup');
    // The real SMTP thread, which also leaves a mark once it has posted "sent":
    // the blocked main thread waits for that mark, not for a guessed time.
    const posted = path.join(dir, 'sent-posted');
    const entry = path.join(dir, 'smtp-thread.js');
    writeFileSync(
      entry,
      [
        "const { parentPort } = require('node:worker_threads');",
        "const { writeFileSync } = require('node:fs');",
        'const post = parentPort.postMessage.bind(parentPort);',
        `parentPort.postMessage = (m) => { post(m); if (m.id !== undefined && !m.failure) writeFileSync(${JSON.stringify(posted)}, ''); };`,
        `require(${JSON.stringify(realEntry)});`,
      ].join('\n'),
    );
    let sendStartedAt = 0;
    let blocked = false;
    const smtp = await startSmtp(() => {
      // The process is busy: past the deadline, with the thread's "sent" (or
    // the server's 250, read on this thread) waiting.
      blocked = true;
      while ((side === 'on the SMTP thread' && !existsSync(posted)) || performance.now() < sendStartedAt + SEND_TIMEOUT_MS + 20) {
        // busy
      }
    });
    const settings = { host: '127.0.0.1', port: smtp.port, requireTransportSecurity: false, forceTls: false };
    const transport = side === 'on the SMTP thread' ? ThreadedMailTransport.create(settings, new CapturingLogger(), entry) : createSmtpTransport(settings);
    if (!transport) throw new Error('no thread entry');
    const outcomes: DeliveryOutcome[] = [];
    const clock = new FakeClock();
    const worker = new OutboxWorker({
      store,
      senders: {
        email: (_payload, messageId, signal) => {
          sendStartedAt = performance.now();
          return transport.send(
            { messageId: `<${messageId}@example.org>`, from: 'noreply@example.org', to: 'alice@example.org', subject: 'Your code', text: 'code', html: '<p>code</p>' },
            signal,
          );
        },
      },
      clock,
      random: new SeededRandom(7),
      logger: new CapturingLogger(),
      maxAttempts: { email: 3, sms: 3 },
      leaseMs: 10_000,
      sendTimeoutMs: SEND_TIMEOUT_MS,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    try {
      await store.outbox.enqueue({ id: 'msg1', channel: 'email', payload: { to: 'alice@example.org' }, now: clock.now() });
      worker.start();
      await worker.stop(30_000);
      expect(blocked).toBe(true);
      expect(outcomes).toEqual(['sent']);
      // A retry, if one were scheduled, would send it again.
      worker.flush();
      worker.start();
      await worker.stop(30_000);
      expect(smtp.accepted).toEqual(['alice@example.org']);
      const rows = await db.selectFrom('threepid_outbox').select(['status']).execute();
      expect(rows).toEqual([{ status: 'sent' }]);
    } finally {
      transport.close();
      await smtp.close();
    }
  }, 60_000);
});
