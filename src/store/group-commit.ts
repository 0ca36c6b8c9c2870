import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema';

type Work<T> = (trx: Transaction<Database>) => Promise<T>;

interface Job {
  readonly work: Work<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

const SAVEPOINT = CompiledQuery.raw('savepoint threepid_job');
const RELEASE = CompiledQuery.raw('release savepoint threepid_job');
const ROLLBACK_TO = CompiledQuery.raw('rollback to savepoint threepid_job');

/** The SQLite databases the module opened, each with the one group commit all its stores share. */
const groupCommits = new WeakMap<object, GroupCommit>();

/** Marks `db` as a SQLite database the module opened, over the connection `inTransaction` asks about. */
export function registerSqliteConnection(db: Kysely<Database>, inTransaction: () => boolean): void {
  groupCommits.set(db, new GroupCommit(db, inTransaction));
}

/** Group commit for `db` when the module opened it on SQLite; undefined for any other database (PostgreSQL, a host's own). */
export function groupCommitFor(db: Kysely<Database>): GroupCommit | undefined {
  return groupCommits.get(db);
}

/**
 * Group commit, for SQLite: the transactions asked for while one turn of the
 * event loop runs (and while the previous group is still writing) share one
 * `BEGIN IMMEDIATE … COMMIT`. A commit writes every page it touched to the
 * log whole, and the rows of requests made at the same time sit on the same
 * pages (ids start with the time): written together, those pages are
 * written once.
 *
 * Each job runs under a savepoint of its own, one after another: a job that
 * throws takes back only its own writes and fails only itself. Nobody is
 * answered before the COMMIT holding their rows succeeded; a failed COMMIT
 * fails every job of its group, and so does a transaction SQLite rolled back
 * by itself (it does on a full disk or an I/O error), whichever job's
 * statement met it.
 */
export class GroupCommit {
  /** The group not begun yet: a transaction asked for now joins it. */
  private open: Job[] | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    /** Whether SQLite still holds a transaction open on the connection. */
    private readonly inTransaction: () => boolean,
  ) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job = { work, resolve: resolve as (value: unknown) => void, reject };
      if (this.open) return void this.open.push(job);
      const group = [job];
      this.open = group;
      // After the I/O callbacks of this turn: every request they started that reaches its write joins.
      setImmediate(() => void this.commit(group));
    });
  }

  /**
   * Runs the group's jobs once its `BEGIN IMMEDIATE` took the write lock:
   * until then (the previous group still writing, or another process
   * holding the lock) later jobs join it, and its wait for the lock counts
   * from its first job's turn, as a lone transaction's would.
   */
  private async commit(group: Job[]): Promise<void> {
    const close = () => {
      if (this.open === group) this.open = undefined;
    };
    let outcomes: Outcome[];
    try {
      outcomes = await this.db.transaction().execute(async (trx) => {
        close();
        const done: Outcome[] = [];
        for (const job of group) done.push(await this.runJob(trx, job));
        return done;
      });
    } catch (err) {
      close();
      for (const job of group) job.reject(err);
      return;
    }
    group.forEach((job, index) => {
      const outcome = outcomes[index];
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  private async runJob(trx: Transaction<Database>, job: Job): Promise<Outcome> {
    await trx.executeQuery(SAVEPOINT);
    try {
      const value = await job.work(trx);
      await trx.executeQuery(RELEASE);
      return { ok: true, value };
    } catch (error) {
      // Rolled back whole by SQLite: the jobs before this one lost their writes too.
      if (!this.inTransaction()) throw error;
      await trx.executeQuery(ROLLBACK_TO);
      await trx.executeQuery(RELEASE);
      return { ok: false, error };
    }
  }
}
