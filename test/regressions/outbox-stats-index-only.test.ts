/**
 * GET /_threepid/v1/outbox/stats (and the /metrics outbox gauges) counted
 * every status over the whole outbox, sent rows kept until the purge too,
 * to report only what is pending: a scan of the table on every call. The
 * views now ask for pending rows alone, found by the (status, …) index.
 */
import { CompiledQuery, type Kysely, type KyselyPlugin, type QueryId, type RootOperationNode } from 'kysely';
import { Keyring } from '../../src/keyring';
import { Metrics } from '../../src/observability/metrics';
import { outboxViewOf } from '../../src/observability/outbox-view';
import { AesGcmSealer } from '../../src/store/sealing';
import type { Database } from '../../src/store/schema';
import { Store } from '../../src/store/store';
import { removeDir, tempDir } from '../support/harness';
import { openTestDatabase } from '../support/postgres';

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

let dir: string;
let db: Kysely<Database>;
let engine: 'sqlite' | 'postgres';
let store: Store;
const recorder = new QueryRecorder();
const clock = { now: () => 1_800_000_000_000 };

beforeEach(async () => {
  dir = tempDir('threepid-stats-plan-');
  ({ db, engine } = await openTestDatabase(dir));
  store = new Store(db.withPlugin(recorder), engine, new AesGcmSealer(Keyring.ephemeral()));
  await store.outbox.enqueue({ id: 'waiting', channel: 'email', payload: { to: 'a@example.org' }, now: clock.now() - 5_000 });
});
afterEach(async () => {
  await db.destroy();
  removeDir(dir);
});

/** How the database would run each query recorded since `from`. */
async function plans(from: number): Promise<string[]> {
  return db.connection().execute(async (connection) => {
    const found: string[] = [];
    for (const { node, queryId } of recorder.queries.slice(from)) {
      const query = db.getExecutor().compileQuery(node, queryId);
      if (engine === 'sqlite') {
        const result = await connection.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query.sql}`, [...query.parameters]));
        found.push(result.rows.map((row) => row.detail).join('\n'));
      } else {
        await connection.executeQuery(CompiledQuery.raw('SET enable_seqscan = off'));
        const result = await connection.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${query.sql}`, [...query.parameters]));
        await connection.executeQuery(CompiledQuery.raw('RESET enable_seqscan'));
        found.push(result.rows.map((row) => row['QUERY PLAN']).join('\n'));
      }
    }
    return found;
  });
}

/** Every query found its rows by status through an index: none read the whole table or a whole index. */
function expectSearchesByStatus(found: string[]) {
  expect(found.length).toBeGreaterThan(0);
  for (const plan of found) {
    if (engine === 'sqlite') expect(plan).toMatch(/^SEARCH threepid_outbox USING (COVERING )?INDEX \w+ \(status=\?/m);
    else expect(plan).toMatch(/Index Cond: \(+status = /);
  }
}

it('the stats endpoint reads only pending and recently failed rows', async () => {
  const from = recorder.queries.length;
  expect(await outboxViewOf(store, clock)()).toEqual({ pending: 1, oldestPendingAgeMs: 5_000, failedLastHour: 0 });
  expectSearchesByStatus(await plans(from));
});

it('the /metrics outbox gauges read only pending rows', async () => {
  const metrics = new Metrics(store, clock, false);
  const from = recorder.queries.length;
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/^threepid_outbox_depth 1$/m);
  expect(text).toMatch(/^threepid_outbox_oldest_age_seconds 5$/m);
  expectSearchesByStatus(await plans(from));
});
