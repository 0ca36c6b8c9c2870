import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readSmtpDialogue } from './smtp-dialogue';

/**
 * How the server treats one connection: `greet-421` answers the greeting
 * with "421 busy" and hangs up, `close-after-ehlo` hangs up right after
 * EHLO, `reject-data-554` refuses each message once it has it, `accept` is a
 * healthy server.
 */
export type SmtpBehaviour = 'greet-421' | 'close-after-ehlo' | 'reject-data-554' | 'accept';

export interface ScriptedSmtp {
  port: number;
  /** Connections opened so far. */
  readonly connections: number;
  /** Recipients of the messages answered 250, in order. */
  readonly accepted: readonly string[];
  close(): Promise<void>;
}

/**
 * A plain-text SMTP server whose `n`th connection (0-based) behaves as
 * `behaviours[n]`, and every later one as the last: a server that fails in
 * one precise way and then recovers.
 */
export async function startScriptedSmtp(behaviours: readonly SmtpBehaviour[]): Promise<ScriptedSmtp> {
  const sockets = new Set<Socket>();
  const accepted: string[] = [];
  let connections = 0;
  const server = createServer((socket) => {
    const behaviour = behaviours[Math.min(connections, behaviours.length - 1)];
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (behaviour === 'greet-421') {
      socket.end('421 4.3.2 scripted.test busy, try later\r\n');
      return;
    }
    socket.write('220 scripted.test ESMTP\r\n');
    let recipient = '';
    readSmtpDialogue(socket, {
      command(line) {
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' && behaviour === 'close-after-ehlo') {
          socket.destroy();
          return 'stop reading';
        }
        if (verb === 'EHLO') socket.write('250-scripted.test\r\n250 8BITMIME\r\n');
        else if (verb === 'RCPT') {
          recipient = /<([^>]*)>/.exec(line)?.[1] ?? '';
          socket.write('250 2.1.5 ok\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 bye\r\n');
          return 'stop reading';
        } else socket.write('250 2.0.0 ok\r\n');
      },
      message() {
        if (behaviour === 'reject-data-554') socket.write('554 5.7.1 message refused\r\n');
        else {
          accepted.push(recipient);
          socket.write('250 2.0.0 queued\r\n');
        }
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
