import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from './config';
import { generateKeyLine, Keyring } from './keyring';
import type { Logger } from './logger';

/**
 * Where the module keeps a secret it made itself: beside the SQLite file
 * named by `database.path` (which on PostgreSQL still names a folder the
 * process owns), e.g. `data/internal-api-secret`, `data/outbox-keys`.
 */
export function secretFilePath(databasePath: string, name: string): string {
  return path.join(path.dirname(path.resolve(databasePath)), name);
}

/**
 * Reads a secret file, first creating it (mode 0600, its folder too) with
 * `generate()` when it does not exist. `onCreated` is told the file's name
 * (to log it; never the secret). The `wx` flag makes a file another process
 * created meanwhile win: both then read the same secret.
 */
export function readOrCreateSecretFile(file: string, generate: () => string, onCreated?: (file: string) => void): string {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(file, generate(), { mode: 0o600, flag: 'wx' });
      onCreated?.(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return readFileSync(file, 'utf8');
}

/**
 * The keys that seal outbox payloads and make stored ids opaque, from (in
 * this order) `outbox.keys` (or its environment variable), `outbox.key_file`,
 * or the default file `outbox-keys` beside the database, generated on first
 * start (mode 0600) like the internal API's secret. A database that lives
 * only in memory gets a key that lives only in memory: nothing it sealed
 * outlives the process anyway. A generated file is logged; with
 * `warnProcess` (a host that gave no logger) it is a process warning too, so
 * the host still hears of a file it must back up and share between replicas.
 * @throws ConfigError naming the key or file that is unusable.
 */
export function loadOutboxKeyring(
  config: Config,
  inMemoryDatabase: boolean,
  logger: Logger,
  { warnProcess = false }: { warnProcess?: boolean } = {},
): Keyring {
  const { keys, keyFile } = config.outbox;
  if (keys) return keyringOrConfigError('outbox.keys', () => Keyring.parse(keys));
  if (keyFile) {
    return keyringOrConfigError('outbox.key_file', () => {
      let text: string;
      try {
        text = readFileSync(keyFile, 'utf8');
      } catch (err) {
        throw new Error(`cannot read ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      return Keyring.parse(text);
    });
  }
  if (inMemoryDatabase) return Keyring.ephemeral();
  const file = secretFilePath(config.database.path, 'outbox-keys');
  const text = readOrCreateSecretFile(
    file,
    () => `# Keys that seal outbox payloads: id:base64, the current one first. See docs/operations/keys.md.\n${generateKeyLine()}\n`,
    (created) => {
      logger.warn({ file: created }, GENERATED_KEY_WARNING);
      if (warnProcess) process.emitWarning(`${GENERATED_KEY_WARNING} in ${created}`, { code: GENERATED_KEY_WARNING_CODE });
    },
  );
  return keyringOrConfigError(file, () => Keyring.parse(text));
}

const GENERATED_KEY_WARNING = 'no outbox.keys configured: generated a key for sealing outbox payloads';
/** The `code` of the process warning a host without a logger gets. */
export const GENERATED_KEY_WARNING_CODE = 'THREEPID_OUTBOX_KEY_GENERATED';

function keyringOrConfigError(where: string, load: () => Keyring): Keyring {
  try {
    return load();
  } catch (err) {
    throw new ConfigError(where, (err as Error).message);
  }
}
