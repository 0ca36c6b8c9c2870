import {
  PostgresDialect,
  PostgresDriver,
  type Driver,
  type PostgresDialectConfig,
  type PostgresPool,
  type PostgresPoolClient,
} from 'kysely';
import { Pool, type PoolClient } from 'pg';
import type { Logger } from '../logger';
import { StoreUnavailable } from '../model';
import { asStoreError } from './unavailable';
import type { WriteHealth } from './write-health';

/** How long the database may take before a request fails instead of waiting for it. */
export interface PostgresTimeouts {
  /** To open a connection, or to get one from the pool when all are in use. */
  readonly connectTimeoutMs: number;
  /** The server cancels a statement that runs longer (`statement_timeout`). */
  readonly statementTimeoutMs: number;
  /** The client gives up on an answer that does not come (a server that hangs, a lost network). */
  readonly queryTimeoutMs: number;
}

/**
 * A pg pool the process survives: PostgreSQL restarting or stopping ends
 * requests with {@link StoreUnavailable} instead of the process.
 *
 * pg-pool listens for a client's `error` only while the client is idle; a
 * client checked out (in a transaction) whose server ends the connection
 * (`57P01` on a restart) emitted `error` with no listener, which Node turns
 * into an uncaught exception. Each client gets its own listener here for its
 * whole life. A client whose query failed for the server's sake is destroyed
 * on release rather than handed to the next request.
 */
export function guardedPool(url: string, maxConnections: number, timeouts: PostgresTimeouts | undefined, logger: Logger, health?: WriteHealth): { pool: Pool; kyselyPool: PostgresPool } {
  const pool = new Pool({
    connectionString: url,
    max: maxConnections,
    ...(timeouts && {
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      statement_timeout: timeouts.statementTimeoutMs,
      query_timeout: timeouts.queryTimeoutMs,
    }),
  });
  // An idle client losing its connection: the pool drops it and opens another when needed.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', (err: Error & { code?: string }) =>
      logger.warn({ code: err.code, err: err.message }, 'database connection lost; requests on it fail and the pool opens another'),
    );
  });
  return {
    pool,
    kyselyPool: {
      async connect() {
        try {
          return guardedClient(await pool.connect(), health);
        } catch (err) {
          throw asStoreError(err);
        }
      },
      end: () => pool.end(),
    },
  };
}

/** The command tags of statements that change rows; their `rowCount` says how many. */
const WRITING_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * Tells `health` of the writes on one connection that reached the database:
 * a statement outside a transaction that changed rows, or a committed
 * transaction in which one did. A COMMIT alone, or an UPDATE that matched
 * nothing, proves nothing about room to write.
 */
function writeWatcher(health: WriteHealth | undefined): (result: { command?: string; rowCount?: number | null }) => void {
  let inTransaction = false;
  let changedRows = false;
  return ({ command, rowCount }) => {
    if (!health) return;
    if (command === 'BEGIN' || command === 'START') [inTransaction, changedRows] = [true, false];
    else if (command === 'COMMIT' || command === 'ROLLBACK') {
      // A COMMIT of a failed transaction answers ROLLBACK.
      if (command === 'COMMIT' && changedRows) health.wrote();
      [inTransaction, changedRows] = [false, false];
    } else if (command !== undefined && WRITING_COMMANDS.has(command) && (rowCount ?? 0) > 0) {
      if (inTransaction) changedRows = true;
      else health.wrote();
    }
  };
}

function guardedClient(client: PoolClient, health: WriteHealth | undefined): PostgresPoolClient {
  let broken = false;
  const watchWrites = writeWatcher(health);
  const query = (sql: string, parameters: ReadonlyArray<unknown>) => {
    if (broken) return Promise.reject(new StoreUnavailable('unreachable', 'the connection failed earlier'));
    return client.query(sql, [...parameters]).then(
      (result) => {
        for (const each of Array.isArray(result) ? (result as typeof result[]) : [result]) watchWrites(each);
        return result;
      },
      (err: unknown) => {
        const error = asStoreError(err);
        if (error instanceof StoreUnavailable) broken = true;
        health?.failed(error);
        throw error;
      },
    );
  };
  return {
    query: ((sqlOrCursor: unknown, parameters?: ReadonlyArray<unknown>) =>
      typeof sqlOrCursor === 'string' ? query(sqlOrCursor, parameters ?? []) : client.query(sqlOrCursor as never)) as unknown as PostgresPoolClient['query'],
    release: (destroy?: boolean) => client.release(destroy || broken),
  };
}

/**
 * Kysely's PostgreSQL dialect, except that a rollback that fails (on a
 * connection already lost) does not replace the error that caused it: the
 * server rolls back a transaction whose connection ends, and Kysely
 * discards the connection.
 */
export class GuardedPostgresDialect extends PostgresDialect {
  constructor(private readonly settings: PostgresDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new (class extends PostgresDriver {
      override async rollbackTransaction(connection: Parameters<PostgresDriver['rollbackTransaction']>[0]): Promise<void> {
        await super.rollbackTransaction(connection).catch(() => undefined);
      }
    })(this.settings);
  }
}
