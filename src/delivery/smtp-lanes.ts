import type { Socket } from 'node:net';

/** What one lane sends: a whole message, as raw MIME, and its envelope. */
export interface RawMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] } | object;
  readonly raw: Buffer | string;
}

/** What carries one lane's messages, on one connection at a time. */
export interface Transporter {
  sendMail(mail: RawMail): Promise<unknown>;
  /** Closes its connection once the message it carries, if any, is sent. */
  close(): void;
}

/** Builds one lane's single-connection transporter; `onSocket` is told of each socket it opens. */
export type MakeTransporter = (onSocket: (socket: Socket) => void) => Transporter;

interface Lane {
  transporter: Transporter;
  socket: Socket | undefined;
}

/**
 * SMTP connections that each carry one message at a time, so that a send
 * past its deadline can be cut off alone (the other lanes go on). One
 * nodemailer pool holding several connections cannot say which connection
 * carries which message.
 *
 * A send past its deadline is settled here, as a temporary failure, and
 * never left to nodemailer: a connection closed while it waits for the
 * server's greeting is one nodemailer never answers for, and a lane waiting
 * on that answer was lost for good. The lane's transporter is closed, its
 * socket destroyed, and the lane goes back with a new transporter.
 */
export class SmtpLanes {
  private readonly lanes: Lane[] = [];
  private readonly free: Lane[] = [];
  private readonly waiting: Array<(lane: Lane) => void> = [];

  constructor(count: number, private readonly makeTransporter: MakeTransporter) {
    for (let i = 0; i < count; i++) {
      const lane: Lane = { transporter: undefined as unknown as Transporter, socket: undefined };
      this.equip(lane);
      this.lanes.push(lane);
    }
    this.free.push(...this.lanes);
  }

  async send(mail: RawMail, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const lane = await this.take(signal);
    let cut = false;
    let onAbort: () => void = () => undefined;
    const pastDeadline = new Promise<never>((_, reject) => {
      onAbort = () => {
        // One turn of the event loop first: a busy process may run the
        // deadline's timer before it reads the server's 250 that already
        // came, and a message the server took is sent, not retried.
        setImmediate(() => {
          cut = true;
          reject(signal?.reason);
        });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([lane.transporter.sendMail(mail), pastDeadline]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (cut) this.renew(lane);
      this.release(lane);
    }
  }

  /** Closes every connection once its message, if any, is sent. */
  close(): void {
    for (const lane of this.lanes) lane.transporter.close();
  }

  /** Gives `lane` a transporter of its own; a socket it opens once replaced is cut at once. */
  private equip(lane: Lane): void {
    const transporter = this.makeTransporter((socket) => {
      if (lane.transporter === transporter) lane.socket = socket;
      else socket.destroy();
    });
    lane.transporter = transporter;
    lane.socket = undefined;
  }

  private renew(lane: Lane): void {
    const { transporter, socket } = lane;
    this.equip(lane);
    transporter.close();
    socket?.destroy();
  }

  private take(signal: AbortSignal | undefined): Promise<Lane> {
    const lane = this.free.pop();
    if (lane) return Promise.resolve(lane);
    return new Promise<Lane>((resolve, reject) => {
      const onLane = (taken: Lane) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(taken);
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(onLane), 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(onLane);
    });
  }

  private release(lane: Lane): void {
    const next = this.waiting.shift();
    if (next) next(lane);
    else this.free.push(lane);
  }
}
