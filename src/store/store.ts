import type { Kysely } from 'kysely';
import { BindingStore } from './bindings';
import { OutboxStore } from './outbox';
import type { Database } from './schema';
import { SessionStore } from './sessions';

/** All storage, over one Kysely handle (the database, or a transaction). */
export class Store {
  readonly sessions: SessionStore;
  readonly outbox: OutboxStore;
  readonly bindings: BindingStore;

  constructor(readonly db: Kysely<Database>) {
    this.sessions = new SessionStore(db);
    this.outbox = new OutboxStore(db);
    this.bindings = new BindingStore(db);
  }

  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: (store: Store) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new Store(trx)));
  }

  destroy(): Promise<void> {
    return this.db.destroy();
  }
}
