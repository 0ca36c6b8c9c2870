import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema';

/** Marks a parameter's place while a query is built once; no value a caller passes starts with a NUL. */
const SLOT = '\u0000threepid-slot:';

/**
 * Stands for the value `values[name]` (or `values[name][index]`, for one
 * item of a list) in a query built once with the query builder and run many
 * times with {@link Precompiled.bind}.
 */
export function slot(name: string, index?: number): never {
  return `${SLOT}${name}${index === undefined ? '' : `\u0001${index}`}` as never;
}

type Source = { readonly name: string; readonly index?: number } | { readonly value: unknown };

/**
 * A query Kysely built and compiled once, run again with new values put in
 * its parameters by position: building and compiling cost more than
 * SQLite's own work for the statements every request runs.
 */
export class Precompiled {
  private readonly sources: readonly Source[];

  constructor(private readonly compiled: CompiledQuery) {
    this.sources = compiled.parameters.map((parameter): Source => {
      if (typeof parameter !== 'string' || !parameter.startsWith(SLOT)) return { value: parameter };
      const [name, index] = parameter.slice(SLOT.length).split('\u0001');
      return index === undefined ? { name } : { name, index: Number(index) };
    });
  }

  /** The compiled query with `values` in its slots (constants built into it stay as they were). */
  bind(values: Readonly<Record<string, unknown>>): CompiledQuery {
    const parameters = this.sources.map((source) => {
      if ('value' in source) return source.value;
      const value = values[source.name];
      return source.index === undefined ? value : (value as readonly unknown[])[source.index];
    });
    return { query: this.compiled.query, queryId: this.compiled.queryId, sql: this.compiled.sql, parameters };
  }
}

/**
 * The precompiled queries of one database handle (its dialect and plugins
 * decide the SQL), by name; the stores of its transactions share them.
 */
export class QueryCache {
  private readonly queries = new Map<string, Precompiled>();

  constructor(private readonly db: Kysely<Database>) {}

  /** The query named `name`, built by `build` the first time only. */
  get(name: string, build: (db: Kysely<Database>) => Compilable): Precompiled {
    let query = this.queries.get(name);
    if (!query) {
      query = new Precompiled(build(this.db).compile());
      this.queries.set(name, query);
    }
    return query;
  }
}
