import { sql, type Kysely } from 'kysely';
import { BindingStore } from './bindings';
import type { Engine } from './engine';
import { OutboxStore } from './outbox';
import { RateLimitStore } from './rate-limits';
import type { Database } from './schema';
import type { PayloadSealer } from './sealing';
import type { Storage } from '../threepid/ports';
import { SessionStore } from './sessions';

/** All storage, over one Kysely handle (the database, or a transaction). */
export class Store implements Storage {
  readonly sessions: SessionStore;
  readonly outbox: OutboxStore;
  readonly bindings: BindingStore;
  readonly rateLimits: RateLimitStore;

  constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    /** Seals outbox payloads at rest (AES-256-GCM in the module, see `sealing.ts`). */
    readonly sealer: PayloadSealer,
  ) {
    this.sessions = new SessionStore(db);
    this.outbox = new OutboxStore(db, engine, sealer);
    this.bindings = new BindingStore(db);
    this.rateLimits = new RateLimitStore(db, engine);
  }

  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: (store: Store) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new Store(trx, this.engine, this.sealer)));
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
