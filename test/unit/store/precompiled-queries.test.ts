/**
 * The queries every request runs are built and compiled by Kysely once per
 * database handle (and once per length of their `in (…)` list), then run
 * with each request's values put in by position.
 */
import type { Kysely, KyselyPlugin, QueryId, RootOperationNode } from 'kysely';
import { Keyring } from '../../../src/keyring';
import type { SessionFlow } from '../../../src/model';
import { AesGcmSealer } from '../../../src/store/sealing';
import type { Database } from '../../../src/store/schema';
import { Store } from '../../../src/store/store';
import { removeDir, tempDir } from '../../support/harness';
import { openTestDatabase } from '../../support/postgres';

/** Counts the queries Kysely compiles: a plugin's transformQuery runs once per compile. */
class CompileCounter implements KyselyPlugin {
  compiled = 0;
  transformQuery(args: { node: RootOperationNode; queryId: QueryId }): RootOperationNode {
    this.compiled += 1;
    return args.node;
  }
  async transformResult<R>(args: { result: R }): Promise<R> {
    return args.result;
  }
}

const NOW = 1_800_000_000_000;

describe('the queries of every request', () => {
  let dir: string;
  let db: Kysely<Database>;
  let store: Store;
  let counter: CompileCounter;

  beforeEach(async () => {
    dir = tempDir('threepid-precompiled-');
    const opened = await openTestDatabase(dir);
    db = opened.db;
    counter = new CompileCounter();
    store = new Store(db.withPlugin(counter), opened.engine, new AesGcmSealer(Keyring.ephemeral()));
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  const flow: SessionFlow = 'register';
  const session = (n: number) => ({
    sid: `sid-${n}`,
    clientSecretHash: `hash-${n}`,
    medium: 'email' as const,
    address: `user${n}@example.org`,
    flow,
    nextLink: n % 2 === 0 ? null : `https://example.org/${n}`,
    sendAttempt: n,
    tokenHash: `token-${n}`,
    createdAt: NOW + n,
    expiresAt: NOW + 3_600_000 + n,
  });

  /** One request's work, in a transaction as requestToken runs it, then submit's. */
  async function request(n: number, forms: string[]) {
    const key = { clientSecretHashes: forms, medium: 'email' as const, address: `user${n}@example.org`, flow };
    await store.transaction(async (tx) => {
      expect(await tx.sessions.findOpenSession({ ...key, createdSince: NOW - 1 })).toBeUndefined();
      await tx.sessions.deleteOpenSessionsCreatedBefore(key, NOW - 1);
      expect(await tx.sessions.insertSession(session(n))).toBe('inserted');
      await tx.outbox.enqueue({ id: `message-${n}`, channel: 'email', payload: { n }, now: NOW + n, decoy: n % 3 === 0 });
    });
    expect(await store.sessions.findOpenSession({ ...key, createdSince: NOW - 1 })).toMatchObject({ sid: `sid-${n}`, nextLink: session(n).nextLink, sendAttempt: n });
    expect(await store.sessions.reserveTokenAttempt(`sid-${n}`, 5)).toBe(true);
    expect(await store.sessions.validateWithinAttempts(`sid-${n}`, `token-${n}`, 5, NOW + n, NOW + 9_000_000)).toBe(true);
    expect(await store.sessions.getSession(`sid-${n}`)).toMatchObject({ sid: `sid-${n}`, validatedAt: NOW + n, expiresAt: NOW + 9_000_000, failedAttempts: 2 });
  }

  it('are compiled once each, per length of the list of a secret’s stored forms, and run with each request’s values', async () => {
    await request(1, ['hash-1']);
    const compiledByTheFirst = counter.compiled;
    for (let n = 2; n <= 6; n++) await request(n, [`hash-${n}`]);
    // A secret under a ring of two keys: its own list length, compiled once more.
    await request(7, ['other-form', 'hash-7']);
    const withTwoForms = counter.compiled;
    await request(8, ['hash-8', 'other-form']);
    expect(counter.compiled).toBe(withTwoForms);
    expect(withTwoForms - compiledByTheFirst).toBe(2);

    const rows = await db.selectFrom('threepid_outbox').select(['id', 'status', 'finished_at']).orderBy('id').execute();
    expect(rows.map((row) => [row.id, row.status, row.finished_at === null ? null : Number(row.finished_at)])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [`message-${n}`, n % 3 === 0 ? 'decoy' : 'pending', n % 3 === 0 ? NOW + n : null]),
    );
  });

  it('for the flow check and the outbox worker too: a binding looked up, messages claimed and marked sent, in batches of the same size', async () => {
    async function round(n: number) {
      expect(await store.bindings.find('email', `nobody${n}@example.org`)).toBeUndefined();
      for (const k of [1, 2]) await store.outbox.enqueue({ id: `m${n}-${k}`, channel: 'email', payload: { n, k }, now: NOW });
      const claimed = await store.outbox.claimDue({ channel: 'email', now: NOW + n, limit: 2, leaseMs: 60_000, token: `claim-${n}` });
      expect(claimed.map((message) => [message.id, message.claim, message.payload])).toEqual([1, 2].map((k) => [`m${n}-${k}`, `claim-${n}`, { n, k }]));
      const sent = await store.outbox.markSent(claimed.map((message) => ({ id: message.id, token: message.claim })), NOW + n);
      expect(sent).toEqual({ held: [`m${n}-1`, `m${n}-2`], withoutLease: [], alreadyFinished: [] });
    }
    await round(1);
    const afterTheFirst = counter.compiled;
    for (let n = 2; n <= 5; n++) await round(n);
    expect(counter.compiled).toBe(afterTheFirst);
    const rows = await db.selectFrom('threepid_outbox').select(['status', 'claim_token']).where('status', '=', 'sent').execute();
    expect(rows).toHaveLength(10);
  });
});
