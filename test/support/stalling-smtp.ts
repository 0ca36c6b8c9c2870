import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readSmtpDialogue } from './smtp-dialogue';

export interface StallingSmtp {
  port: number;
  /** Messages whose DATA ended ("." received) and were never answered. */
  readonly stalled: number;
  /** Connections the client dropped while the server was stalling. */
  readonly dropped: number;
  close(): Promise<void>;
}

/**
 * An SMTP server that takes a whole message and then never answers it:
 * `stall` keeps silent, `trickle` sends one byte of a reply line every
 * `trickleMs` and never ends the line (no inactivity timeout ever fires).
 * `stall-at-data` never answers DATA itself, so no message is sent.
 * `no-greeting` takes the connection and then sends nothing, nor reads (nor
 * answers a TLS client's hello); `stall-after-starttls` offers STARTTLS,
 * answers it 220, and then never takes part in the TLS handshake.
 * Everything before is answered as a real server would.
 */
export async function startStallingSmtp(
  mode: 'stall' | 'trickle' | 'stall-at-data' | 'no-greeting' | 'stall-after-starttls',
  trickleMs = 1_000,
): Promise<StallingSmtp> {
  const sockets = new Set<Socket>();
  let stalled = 0;
  let dropped = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    let stalling = false;
    let trickle: NodeJS.Timeout | undefined;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      clearInterval(trickle);
      if (stalling) dropped += 1;
    });
    if (mode === 'no-greeting') {
      stalling = true;
      return;
    }
    socket.write('220 stalling.test ESMTP\r\n');
    readSmtpDialogue(socket, {
      command(line) {
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write(`250-stalling.test\r\n${mode === 'stall-after-starttls' ? '250-STARTTLS\r\n' : ''}250 8BITMIME\r\n`);
        else if (verb === 'STAR') {
          socket.write('220 go ahead\r\n');
          stalling = true;
          return 'stop reading';
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      },
      data() {
        if (mode !== 'stall-at-data') return;
        stalling = true;
        return 'stop reading';
      },
      message() {
        stalling = true;
        stalled += 1;
        if (mode === 'trickle') trickle = setInterval(() => socket.write('2'), trickleMs);
        return 'stop reading';
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    get stalled() {
      return stalled;
    },
    get dropped() {
      return dropped;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
