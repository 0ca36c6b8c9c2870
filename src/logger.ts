import pino from 'pino';

/**
 * The narrow logging port the module uses: structured fields first, then a
 * message (pino's calling convention, so a host can pass its own pino logger).
 * Nothing logged may contain a token, a client_secret or an access token.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** JSON lines on stdout. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { name: 'matrix-hs-threepid' } });
}

/** Discards everything (tests that do not look at logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
