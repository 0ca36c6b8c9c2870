/** What the module checks and says before it opens anything: its options, and the development senders it was left with. */
import path from 'node:path';
import type { Config } from './config';
import type { Logger } from './logger';
import { ThreepidError } from './threepid/errors';

/** The `code` of the process warning a host without a logger gets when texts go to files. */
export const SMS_TO_FILES_WARNING_CODE = 'THREEPID_SMS_TO_FILES';

const SMS_TO_FILES_WARNING = 'SMS enabled with the development log sender: texts are written to files in sms.dev_sms_dir, none is sent';

/**
 * SMS is on by default with the `log` sender, which writes each text to a
 * file: a server set up without thinking of SMS would tell its users a code
 * was sent while none ever leaves. Said once at start, through the logger,
 * and (a host that gave no logger) as a process warning too.
 */
export function warnOfTextsWrittenToFiles(config: Config, logger: Logger, { warnProcess = false }: { warnProcess?: boolean } = {}): void {
  if (!config.sms.enabled || config.sms.sender !== 'log') return;
  const dir = path.resolve(config.sms.devSmsDir);
  logger.warn({ dir }, SMS_TO_FILES_WARNING);
  if (warnProcess) process.emitWarning(`${SMS_TO_FILES_WARNING} (${dir})`, { code: SMS_TO_FILES_WARNING_CODE });
}

/** A JavaScript host can pass anything: the options must at least carry a config from `parseConfig`. */
export function checkModuleOptions(options: unknown): void {
  const config = (options as { config?: unknown } | null | undefined)?.config as Partial<Config> | undefined;
  if (!config || typeof config !== 'object' || !Array.isArray(config.ignoredKeys)) {
    throw new ThreepidError('M_INVALID_PARAM', 'createThreepidModule takes { config }, config being what parseConfig returns');
  }
}
