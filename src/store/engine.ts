import { PostgresAdapter, SqliteAdapter, type Kysely } from 'kysely';
import type { Kysely as KyselyOfEsmBuild } from 'kysely' with { 'resolution-mode': 'import' };
import { ThreepidError } from '../threepid/errors';

/** The two database engines the module runs on. */
export type Engine = 'sqlite' | 'postgres';

/**
 * A host's own Kysely, from either of kysely's builds. kysely ships one for
 * `import` and one for `require`, each with its own classes: an ES-module
 * host's Kysely is not the class this CommonJS package sees (nor, for the
 * type checker, assignable to it: private members make classes nominal).
 * Both run the module's queries alike.
 */
export type HostKysely = Kysely<any> | KyselyOfEsmBuild<any>;

/** A Kysely instance, of either build, as far as the module can tell: anything else is a host's mistake, named. */
export function checkKysely(db: unknown): asserts db is HostKysely {
  if (!db || typeof db !== 'object' || typeof (db as { getExecutor?: unknown }).getExecutor !== 'function') {
    throw new ThreepidError('M_INVALID_PARAM', 'db must be a Kysely instance');
  }
}

/** An engine the module runs on, when a host names one. */
export function checkEngine(engine: unknown): asserts engine is Engine | undefined {
  if (engine !== undefined && engine !== 'sqlite' && engine !== 'postgres') {
    throw new ThreepidError('M_INVALID_PARAM', "the engine must be 'sqlite' or 'postgres'");
  }
}

/** By class name, which both builds share (and a host's subclass keeps up its prototype chain). */
const ENGINES_BY_ADAPTER = new Map<string, Engine>([
  ['PostgresAdapter', 'postgres'],
  ['SqliteAdapter', 'sqlite'],
]);

/**
 * Which engine a Kysely instance talks to, from its dialect's adapter, of
 * either kysely build.
 * @throws ThreepidError `M_INVALID_PARAM` for any other dialect (MySQL, MS SQL
 * Server, a dialect whose adapter is unknown): name the engine with
 * `databaseEngine` if it really speaks SQLite's or PostgreSQL's SQL.
 */
export function engineOf(db: HostKysely): Engine {
  checkKysely(db);
  const adapter: object = db.getExecutor().adapter;
  // A bundle that minifies class names still shares this build's classes.
  if (adapter instanceof PostgresAdapter) return 'postgres';
  if (adapter instanceof SqliteAdapter) return 'sqlite';
  const names: string[] = [];
  for (let proto: unknown = Object.getPrototypeOf(adapter); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name !== 'string') continue;
    const engine = ENGINES_BY_ADAPTER.get(name);
    if (engine) return engine;
    names.push(name);
  }
  throw new ThreepidError(
    'M_INVALID_PARAM',
    `database: the module runs on SQLite or PostgreSQL, and this Kysely's dialect adapter (${names[0] ?? 'unnamed'}) is neither; ` +
      "if its database speaks SQLite's or PostgreSQL's SQL, say which with databaseEngine: 'sqlite' or 'postgres'",
  );
}
