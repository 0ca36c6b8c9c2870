import pino from 'pino';
import { prettyLine } from './log-format';
import { ThreepidError } from './threepid/errors';

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

export type LogFormat = 'pretty' | 'json';

/**
 * `LOG_FORMAT` when it names a format; else pretty for a person at a
 * terminal and JSON lines for whatever collects the output.
 */
export function chooseLogFormat(setting: string | undefined, stdoutIsTerminal: boolean): LogFormat {
  if (setting === 'pretty' || setting === 'json') return setting;
  return stdoutIsTerminal ? 'pretty' : 'json';
}

/** Log lines on stdout, at `LOG_LEVEL` (default info), as `LOG_FORMAT` says (see {@link chooseLogFormat}). */
export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  format: LogFormat = chooseLogFormat(process.env.LOG_FORMAT, process.stdout.isTTY === true),
): Logger {
  if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
    throw new ThreepidError('M_INVALID_PARAM', `level must be one of ${Object.keys(pino.levels.values).join(', ')} or silent`);
  }
  if (format !== 'json' && format !== 'pretty') throw new ThreepidError('M_INVALID_PARAM', "format must be 'json' or 'pretty'");
  const options = { level, base: { name: 'matrix-hs-threepid' } };
  if (format === 'json') return pino(options);
  return pino(options, { write: (line: string) => void process.stdout.write(prettyLine(line)) });
}

/** Discards everything (tests that do not look at logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
