import { sql, type Kysely } from 'kysely';
import { BindingStore } from './bindings';
import type { Engine } from './engine';
import { groupCommitFor, type GroupCommit } from './group-commit';
import { OutboxStore } from './outbox';
import { RateLimitStore } from './rate-limits';
import type { Database } from './schema';
import { QueryCache } from './precompiled';
import type { PayloadSealer } from './sealing';
import type { Storage } from '../threepid/ports';
import { SessionStore } from './sessions';

/** All storage, over one Kysely handle (the database, or a transaction). */
export class Store implements Storage {
  readonly sessions: SessionStore;
  readonly outbox: OutboxStore;
  readonly bindings: BindingStore;
  readonly rateLimits: RateLimitStore;

  /** Set on a SQLite database the module opened: its transactions commit in groups (see `group-commit.ts`). */
  private readonly groupCommit: GroupCommit | undefined;
  /** Savepoints open inside this transaction's store, for transactions asked for inside it. */
  private nestedDepth = 0;

  constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    /** Seals outbox payloads at rest (AES-256-GCM in the module, see `sealing.ts`). */
    readonly sealer: PayloadSealer,
    /** The queries built once for this database, shared with its transactions' stores. */
    private readonly queries: QueryCache = new QueryCache(db),
  ) {
    this.groupCommit = engine === 'sqlite' ? groupCommitFor(db) : undefined;
    this.sessions = new SessionStore(db, queries);
    this.outbox = new OutboxStore(db, engine, sealer, queries);
    this.bindings = new BindingStore(db, queries);
    this.rateLimits = new RateLimitStore(db, engine);
  }

  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: (store: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return this.nested(work);
    if (this.groupCommit) return this.groupCommit.run((trx) => work(new Store(trx, this.engine, this.sealer, this.queries)));
    return this.db.transaction().execute((trx) => work(new Store(trx, this.engine, this.sealer, this.queries)));
  }

  /** A transaction inside this one: a savepoint, whose writes are taken back alone when `work` throws. */
  private async nested<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const name = sql.raw(`threepid_nested_${++this.nestedDepth}`);
    try {
      await sql`savepoint ${name}`.execute(this.db);
      let result: T;
      try {
        result = await work(this);
      } catch (err) {
        // When the whole transaction is gone (SQLite rolls back by itself on a full disk), `err` is the news.
        await sql`rollback to savepoint ${name}`.execute(this.db).then(() => sql`release savepoint ${name}`.execute(this.db)).catch(() => undefined);
        throw err;
      }
      await sql`release savepoint ${name}`.execute(this.db);
      return result;
    } finally {
      this.nestedDepth -= 1;
    }
  }

  async lockUntilCommit(name: string): Promise<void> {
    // SQLite runs one transaction at a time already, holding the write lock from its start (`BEGIN IMMEDIATE`).
    if (this.engine !== 'postgres') return;
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`matrix-hs-threepid:${name}`}))`.execute(this.db);
  }

  destroy(): Promise<void> {
    return this.db.destroy();
  }
}
