import { CompiledQuery, type Kysely, type KyselyPlugin, type QueryId, type RootOperationNode } from 'kysely';
import { Keyring } from '../../../src/keyring';
import { AesGcmSealer } from '../../../src/store/sealing';
import type { Database } from '../../../src/store/schema';
import { Store } from '../../../src/store/store';
import { removeDir, tempDir } from '../../support/harness';
import { openTestDatabase } from '../../support/postgres';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

/** Keeps each query the store sends, to ask the database how it would run it. */
class QueryRecorder implements KyselyPlugin {
  readonly queries: Array<{ node: RootOperationNode; queryId: QueryId }> = [];
  transformQuery(args: { node: RootOperationNode; queryId: QueryId }): RootOperationNode {
    this.queries.push(args);
    return args.node;
  }
  async transformResult<R>(args: { result: R }): Promise<R> {
    return args.result;
  }
}

describe('the count of messages given up on since a time', () => {
  let dir: string;
  let db: Kysely<Database>;
  let engine: 'sqlite' | 'postgres';
  let store: Store;
  const recorder = new QueryRecorder();

  beforeEach(async () => {
    dir = tempDir('threepid-failed-count-');
    ({ db, engine } = await openTestDatabase(dir));
    store = new Store(db.withPlugin(recorder), engine, new AesGcmSealer(Keyring.ephemeral()));
  });
  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  /** Enqueues a message and finishes it at `at`: given up on, or sent. */
  async function finish(id: string, at: number, outcome: 'failed' | 'sent') {
    await store.outbox.enqueue({ id, channel: 'email', payload: { to: 'a@example.org' }, now: at - 1_000 });
    const [claimed] = await store.outbox.claimDue({ channel: 'email', now: at, limit: 1, leaseMs: 60_000, token: `claim-${id}` });
    const claim = { id: claimed.id, token: claimed.claim };
    if (outcome === 'failed') await store.outbox.markFailed(claim, at, 'SMTP server refused the message (550)');
    else await store.outbox.markSent([claim], at);
  }

  it('counts the failed ones finished at or after the time, and neither sent nor pending ones', async () => {
    await finish('old', NOW - 2 * HOUR, 'failed');
    await finish('edge', NOW - HOUR, 'failed');
    await finish('recent', NOW - 60_000, 'failed');
    await finish('sent', NOW - 60_000, 'sent');
    await store.outbox.enqueue({ id: 'pending', channel: 'sms', payload: { to: '33612345678', code: '123456' }, now: NOW - 3 * HOUR });
    expect(await store.outbox.countFailedSince(NOW - HOUR)).toBe(2);
    expect(await store.outbox.countFailedSince(NOW - 3 * HOUR)).toBe(3);
    expect(await store.outbox.countFailedSince(NOW)).toBe(0);
  });

  it('is read off the (status, finished_at) index, not every failed row', async () => {
    recorder.queries.length = 0;
    await store.outbox.countFailedSince(NOW - HOUR);
    const [{ node, queryId }] = recorder.queries;
    const query = db.getExecutor().compileQuery(node, queryId);
    const plan = await db.connection().execute(async (connection) => {
      if (engine === 'sqlite') {
        const result = await connection.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query.sql}`, [...query.parameters]));
        return result.rows.map((row) => row.detail).join('\n');
      }
      // A tiny table is cheaper to scan: ask PostgreSQL what it does when scanning is ruled out.
      await connection.executeQuery(CompiledQuery.raw('SET enable_seqscan = off'));
      const result = await connection.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${query.sql}`, [...query.parameters]));
      await connection.executeQuery(CompiledQuery.raw('RESET enable_seqscan'));
      return result.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('threepid_outbox_finished');
    expect(plan).toMatch(/finished_at/);
  });
});
