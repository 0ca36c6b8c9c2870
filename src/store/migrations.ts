import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../package-files';
import { Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';

/** The folder of numbered plain-SQL migrations shipped with the module. */
export const SQL_DIR = path.join(packageRoot(), 'sql');

/** `0001_threepid_sessions.sql` (portable) or `0001_x.sql.sqlite` (engine override). */
const FILE_PATTERN = /^(\d{4}_[a-z0-9_]+)\.sql(?:\.(sqlite|postgres))?$/;

export type Engine = 'sqlite' | 'postgres';

/**
 * Splits a migration file into statements. Our migrations hold plain DDL with
 * no semicolons inside literals or bodies, so a statement ends at a `;` that
 * closes a line. (better-sqlite3 runs one statement per call.)
 */
function statements(text: string): string[] {
  return text
    .split(/;\s*$/m)
    .map((part) => part.replace(/^\s*--.*$/gm, '').trim())
    .filter((part) => part.length > 0);
}

/**
 * Feeds `sql/NNNN_name.sql` files to Kysely's Migrator. A file named
 * `NNNN_name.sql.<engine>` replaces the portable one on that engine. Each file
 * runs in a transaction: Kysely does not wrap SQLite migrations (each file
 * gets its own here, so a half-applied file is never recorded as done), and
 * wraps all of PostgreSQL's in one.
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(
    private readonly engine: Engine,
    private readonly dir: string = SQL_DIR,
  ) {}

  private loaded: Promise<Record<string, Migration>> | undefined;

  /** Read once: the files are frozen in time, and readiness checks ask often. */
  getMigrations(): Promise<Record<string, Migration>> {
    return (this.loaded ??= this.load());
  }

  private async load(): Promise<Record<string, Migration>> {
    const chosen = new Map<string, string>();
    for (const file of (await readdir(this.dir)).sort()) {
      const match = FILE_PATTERN.exec(file);
      if (!match) continue;
      const [, name, engine] = match;
      if (engine !== undefined && engine !== this.engine) continue;
      if (engine === undefined && chosen.has(name)) continue;
      chosen.set(name, file);
    }
    const migrations: Record<string, Migration> = {};
    for (const [name, file] of chosen) {
      const text = await readFile(path.join(this.dir, file), 'utf8');
      const parts = statements(text);
      migrations[name] = {
        up: async (db) => {
          // PostgreSQL: Kysely already runs all migrations in one transaction.
          if (this.engine === 'postgres') {
            for (const statement of parts) await sql.raw(statement).execute(db);
            return;
          }
          await db.transaction().execute(async (trx) => {
            for (const statement of parts) await sql.raw(statement).execute(trx);
          });
        },
      };
    }
    return migrations;
  }
}

/**
 * Applies every pending migration. Safe to run at every start.
 * @throws Error naming the migration that failed.
 */
export async function migrateToLatest(db: Kysely<any>, engine: Engine, dir?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(engine, dir) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    const name = failed ? ` ${failed.migrationName}` : '';
    throw new Error(`database migration${name} failed: ${(error as Error).message ?? String(error)}`);
  }
}

/** Answers the names of the migrations not yet applied (empty when the schema is current). */
export function migrationCheck(db: Kysely<any>, engine: Engine, dir?: string): () => Promise<string[]> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(engine, dir) });
  return async () =>
    (await migrator.getMigrations()).filter((migration) => migration.executedAt === undefined).map((m) => m.name);
}
