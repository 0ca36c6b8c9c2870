import type { Socket } from 'node:net';
import type { Transporter } from 'nodemailer';

/** What one lane sends: a whole message, as raw MIME, and its envelope. */
export interface RawMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] } | object;
  readonly raw: Buffer | string;
}

interface Lane {
  readonly transporter: Transporter;
  socket: Socket | undefined;
  /** The send on this lane passed its deadline: a connection it opens from now on is cut at once. */
  cutOff: boolean;
}

/**
 * SMTP connections that each carry one message at a time, so that a send
 * past its deadline can be cut off alone: its lane's socket is destroyed
 * (the other lanes go on), and the lane makes a new connection for its next
 * message. One nodemailer pool holding several connections cannot say which
 * connection carries which message.
 */
export class SmtpLanes {
  private readonly lanes: Lane[] = [];
  private readonly free: Lane[] = [];
  private readonly waiting: Array<(lane: Lane) => void> = [];

  /** `makeTransporter` builds one lane's single-connection transporter; `onSocket` is told of each socket it opens. */
  constructor(count: number, makeTransporter: (onSocket: (socket: Socket) => void) => Transporter) {
    for (let i = 0; i < count; i++) {
      const lane: { transporter?: Transporter; socket: Socket | undefined; cutOff: boolean } = { socket: undefined, cutOff: false };
      lane.transporter = makeTransporter((socket) => {
        lane.socket = socket;
        // Still connecting: nodemailer hears of the close as of any failed connection.
        if (lane.cutOff) socket.destroy();
      });
      this.lanes.push(lane as Lane);
    }
    this.free.push(...this.lanes);
  }

  async send(mail: RawMail, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const lane = await this.take(signal);
    const drop = () => {
      lane.cutOff = true;
      lane.socket?.destroy();
    };
    signal?.addEventListener('abort', drop, { once: true });
    try {
      await lane.transporter.sendMail(mail as Parameters<Transporter['sendMail']>[0]);
    } finally {
      signal?.removeEventListener('abort', drop);
      lane.cutOff = false;
      this.release(lane);
    }
  }

  /** Closes every connection once its message, if any, is sent. */
  close(): void {
    for (const lane of this.lanes) lane.transporter.close();
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
