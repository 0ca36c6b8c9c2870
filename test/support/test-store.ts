/**
 * The store over the test project's engine (a SQLite file, or the PostgreSQL
 * database that stands for it), sealed with an ephemeral key: a fresh one
 * for each test of the block.
 */
import type { Kysely } from 'kysely';
import { Keyring } from '../../src/keyring';
import { AesGcmSealer } from '../../src/store/sealing';
import type { Database } from '../../src/store/schema';
import { Store } from '../../src/store/store';
import { removeDir, tempDir } from './harness';
import { openTestDatabase } from './postgres';

export interface TestStore {
  readonly db: Kysely<Database>;
  readonly store: Store;
}

/** Registers the hooks that open a fresh store before each test and close it after. */
export function storeForEachTest(prefix: string): TestStore {
  let dir: string;
  let db: Kysely<Database>;
  let store: Store;

  beforeEach(async () => {
    dir = tempDir(prefix);
    const opened = await openTestDatabase(dir);
    db = opened.db;
    store = new Store(db, opened.engine, new AesGcmSealer(Keyring.ephemeral()));
  });

  afterEach(async () => {
    await db.destroy();
    removeDir(dir);
  });

  return {
    get db() {
      return db;
    },
    get store() {
      return store;
    },
  };
}
