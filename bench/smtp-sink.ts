import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

const DATA_END = '\r\n.\r\n';

/**
 * A minimal SMTP server for the benchmark: it answers every command at once
 * (no greeting delay, no parsing of the message) and counts what arrives.
 * It understands what nodemailer sends over plain SMTP: EHLO/HELO, MAIL,
 * RCPT, DATA, RSET, NOOP, QUIT.
 */
export class SmtpSink {
  /** Messages accepted since start (or since {@link reset}). */
  count = 0;
  /** `performance.now()` when the first and the latest counted message arrived. */
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** Receives the raw DATA of each message; leave unset to only count. */
  onMessage: ((data: string) => void) | undefined;

  private waiters: Array<{ target: number; resolve: () => void }> = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly server: Server,
  ) {}

  static async start(): Promise<SmtpSink> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const sink = new SmtpSink((server.address() as AddressInfo).port, server);
    server.on('connection', (socket) => sink.serve(socket));
    return sink;
  }

  /** Resolves once `count` reaches `target`; rejects after `timeoutMs`. */
  waitFor(target: number, timeoutMs: number): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        reject(new Error(`SMTP sink: expected ${target} messages within ${timeoutMs} ms, got ${this.count}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  reset(): void {
    this.count = 0;
    this.firstAt = this.lastAt = undefined;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private received(data: string): void {
    const now = performance.now();
    this.count += 1;
    this.firstAt ??= now;
    this.lastAt = now;
    this.onMessage?.(data);
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((waiter) => this.count >= waiter.target);
      this.waiters = this.waiters.filter((waiter) => this.count < waiter.target);
      for (const waiter of ready) waiter.resolve();
    }
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.write('220 bench-sink ESMTP\r\n');

    let buffer = '';
    let inData = false;
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const replies: string[] = [];
      for (;;) {
        if (inData) {
          // DATA ends with CRLF.CRLF (or with ".\r\n" right away for an empty message).
          let body = '';
          if (buffer.startsWith('.\r\n')) {
            buffer = buffer.slice(3);
          } else {
            const end = buffer.indexOf(DATA_END);
            if (end === -1) break;
            body = buffer.slice(0, end + 2);
            buffer = buffer.slice(end + DATA_END.length);
          }
          inData = false;
          replies.push('250 OK queued');
          this.received(body);
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol === -1) break;
        const verb = buffer.slice(0, Math.min(4, eol)).toUpperCase();
        buffer = buffer.slice(eol + 2);
        switch (verb) {
          case 'EHLO':
            replies.push('250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8');
            break;
          case 'DATA':
            inData = true;
            replies.push('354 go ahead');
            break;
          case 'QUIT':
            socket.end(`${[...replies, '221 bye'].join('\r\n')}\r\n`);
            return;
          case 'HELO':
          case 'MAIL':
          case 'RCPT':
          case 'RSET':
          case 'NOOP':
            replies.push('250 OK');
            break;
          default:
            replies.push('502 command not implemented');
        }
      }
      if (replies.length > 0) socket.write(`${replies.join('\r\n')}\r\n`);
    });
  }
}
