import { createServer, type AddressInfo, type Socket } from 'node:net';

/** The reply a step gets in place of its usual one (`DATA` is the command, `message` the end of data, which `'hang up'` answers by closing the connection). */
export type StrictSmtpRefusals = Partial<Record<'MAIL' | 'RCPT' | 'DATA' | 'message', string>>;

export interface StrictSmtp {
  port: number;
  /** Messages whose end of data was answered 250, as they came (dot-stuffed). */
  readonly messages: string[];
  /** Commands that came in one chunk with the one before them, before its reply was sent. */
  readonly pipelined: string[];
  /** Messages whose end of data came at all, refused or not. */
  readonly ended: number;
  close(): Promise<void>;
}

/**
 * A plain-text SMTP server that reads the client's chunks as they come:
 * it offers PIPELINING or not, and a command sent before the reply to the
 * one before it is recorded and, when PIPELINING was not offered, refused
 * with 503 as Postfix's `reject_unauth_pipelining` does.
 */
export async function startStrictSmtp(options: { pipelining: boolean; refuse?: StrictSmtpRefusals }): Promise<StrictSmtp> {
  const sockets = new Set<Socket>();
  const messages: string[] = [];
  const pipelined: string[] = [];
  let ended = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.write('220 strict.test ESMTP\r\n');
    let buffer = '';
    let inData = false;
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const replies: string[] = [];
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) break;
          // (DATA's own line end was put back in front, so that a message ending at once is found.)
          const message = buffer.slice(2, end + 2);
          buffer = buffer.slice(end + 5);
          inData = false;
          ended += 1;
          if (options.refuse?.message === 'hang up') {
            socket.destroy();
            return;
          }
          if (options.refuse?.message) replies.push(options.refuse.message);
          else {
            messages.push(message);
            replies.push('250 2.0.0 queued');
          }
          continue;
        }
        const lineEnd = buffer.indexOf('\r\n');
        if (lineEnd < 0) break;
        const line = buffer.slice(0, lineEnd);
        buffer = buffer.slice(lineEnd + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (replies.length > 0) {
          pipelined.push(verb);
          if (!options.pipelining) {
            replies.push('503 5.5.0 improper use of SMTP command pipelining');
            continue;
          }
        }
        const refusal = options.refuse?.[verb as 'MAIL' | 'RCPT' | 'DATA'];
        if (verb === 'EHLO') replies.push(`250-strict.test${options.pipelining ? '\r\n250-PIPELINING' : ''}\r\n250 8BITMIME`);
        else if (verb === 'QUIT') {
          socket.end(`${[...replies, '221 2.0.0 bye'].join('\r\n')}\r\n`);
          return;
        } else if (refusal) replies.push(refusal);
        else if (verb === 'DATA') {
          replies.push('354 go ahead');
          inData = true;
          buffer = '\r\n' + buffer;
        } else replies.push('250 2.0.0 ok');
      }
      if (replies.length > 0) socket.write(`${replies.join('\r\n')}\r\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    pipelined,
    get ended() {
      return ended;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
