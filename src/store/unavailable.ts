import { StoreUnavailable, type UnavailableReason } from '../model';

/**
 * PostgreSQL's SQLSTATEs that say the server, not the query, is the trouble:
 * by class (08 connection exception, 53 insufficient resources, 57P
 * shutdown, 58 system error), and `57014` (a statement cancelled by
 * `statement_timeout`).
 */
function postgresReason(code: string): UnavailableReason | undefined {
  if (code === '57014') return 'timeout';
  if (code === '53100' || code.startsWith('58')) return 'full';
  if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return 'unreachable';
  return undefined;
}

/** node-postgres and pg-pool raise these without a code when the connection fails or is never made. */
const POSTGRES_CLIENT_MESSAGES: ReadonlyArray<[RegExp, UnavailableReason]> = [
  [/^Query read timeout$/, 'timeout'],
  [/^timeout exceeded when trying to connect$/, 'timeout'],
  [/^Connection terminated due to connection timeout$/, 'timeout'],
  [/^Connection terminated/, 'unreachable'],
  [/^Client has encountered a connection error and is not queryable$/, 'unreachable'],
  [/^Client was closed and is not queryable$/, 'unreachable'],
];

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Why `err`, a driver's error, means the database is unavailable; undefined when it is about the query itself. */
export function unavailableReason(err: unknown): UnavailableReason | undefined {
  if (err instanceof StoreUnavailable) return err.reason;
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    // better-sqlite3's extended codes: SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE…
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
    if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) return 'full';
    if (SOCKET_CODES.has(code)) return 'unreachable';
    if (/^[0-9A-Z]{5}$/.test(code)) return postgresReason(code);
  }
  if (typeof message === 'string') return POSTGRES_CLIENT_MESSAGES.find(([pattern]) => pattern.test(message))?.[1];
  return undefined;
}

/** `err` as a {@link StoreUnavailable} when it means the database is unavailable; otherwise `err` itself. */
export function asStoreError(err: unknown): unknown {
  if (err instanceof StoreUnavailable) return err;
  const reason = unavailableReason(err);
  if (!reason) return err;
  const { code, message } = err as { code?: unknown; message?: unknown };
  const detail = [typeof code === 'string' ? code : undefined, typeof message === 'string' ? message : undefined].filter(Boolean).join(': ');
  return new StoreUnavailable(reason, detail || 'unknown', { cause: err });
}
