import type { Claim, SentRecords } from '../store/outbox';

/** How a "sent" mark was written: under the message's own lease, after it ran out, or after another claim finished it. */
export type SentMark = 'held' | 'withoutLease' | 'alreadyFinished';

/**
 * Marks messages sent in groups: every send that ends in the same turn of
 * the event loop is recorded by one UPDATE, in one commit. A message is
 * only counted sent once its group is written.
 */
export class SentRecorder {
  private claims: Claim[] = [];
  private written: Promise<SentRecords> | undefined;

  constructor(
    private readonly write: (claims: readonly Claim[]) => Promise<SentRecords>,
    private readonly pausesMs: readonly number[],
  ) {}

  async record(claim: Claim): Promise<SentMark> {
    this.claims.push(claim);
    this.written ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const claims = this.claims;
      this.claims = [];
      this.written = undefined;
      return this.writeWithRetries(claims);
    });
    const records = await this.written;
    if (records.withoutLease.includes(claim.id)) return 'withoutLease';
    if (records.alreadyFinished.includes(claim.id)) return 'alreadyFinished';
    return 'held';
  }

  /** The write is idempotent: a busy database or a dropped connection gets a few more tries. */
  private async writeWithRetries(claims: readonly Claim[]): Promise<SentRecords> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.write(claims);
      } catch (err) {
        if (attempt >= this.pausesMs.length) throw err;
        await new Promise((resolve) => setTimeout(resolve, this.pausesMs[attempt]));
      }
    }
  }
}

/** Pauses before the retries of a failed "sent" write, by default. */
export const SENT_WRITE_RETRY_MS = [50, 250, 1_000];
