import { existsSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Config } from './config';
import type { Keyring } from './keyring';
import { silentLogger, type Logger } from './logger';
import { loadOutboxKeyring, secretFilePath } from './secret-file';
import { readDatabase } from './store/database';
import { pendingMessagesSealedUnder, sessionsStoredUnder } from './store/key-usage';
import type { Database } from './store/schema';
import type { Medium } from './model';
import { continuationWindowMs, EXPIRED_SESSION_GRACE_MS, VALIDATED_SESSION_LIFETIME_MS } from './threepid/session-lifetimes';

/** What still depends on a key of the ring that is no longer the current one. */
export interface OlderKeyUse {
  readonly id: string;
  /** Sessions that may still be used with a sid, a token or a client secret made under it. */
  readonly sessions: number;
  /** When the last of those stops being usable as they stand; null when none. */
  readonly sessionsUntil: number | null;
  /** When at the latest, if clients continue them with new tokens as late as they may; null when none. */
  readonly sessionsUntilIfContinued: number | null;
  /** Messages sealed under it that wait to be sent. */
  readonly pendingMessages: number;
}

/**
 * For each key of the ring but the current one, what in the database still
 * depends on it. Sids name no key: a session's sid was handed out under the
 * key current when the session was made (the key its client secret's MAC
 * names) or under a newer one (a repeated request, a new token's email).
 * With the ring listed newest first, as the rotation steps leave it, a key
 * is therefore needed by every session made under it or under an older
 * key, and by those stored before MACs (which name none). An open session
 * counts for 24 hours past its token's expiry: it can be validated at the
 * last moment and then spent for 24 hours, or it is purged 24 hours after
 * it expired. While in its continuation window, it may get a new token
 * that lives `tokenLifetimesMs` from the window's last moment, and then
 * count 24 hours past that.
 */
export async function olderKeysInUse(
  db: Kysely<Database>,
  keyring: Keyring,
  now: number,
  tokenLifetimesMs: Readonly<Record<Medium, number>>,
): Promise<OlderKeyUse[]> {
  const ids = keyring.keys.map((key) => key.id);
  const openMarginMs = Math.max(VALIDATED_SESSION_LIFETIME_MS, EXPIRED_SESSION_GRACE_MS);
  const bound = (lifetimeMs: number) => ({ windowMs: continuationWindowMs(lifetimeMs), lastUseAfterWindowMs: lifetimeMs + openMarginMs });
  const continuation = { email: bound(tokenLifetimesMs.email), msisdn: bound(tokenLifetimesMs.msisdn) };
  const uses: OlderKeyUse[] = [];
  for (let index = 1; index < ids.length; index++) {
    const sessions = await sessionsStoredUnder(db, { keyIds: ids.slice(index), unkeyed: true, now, openMarginMs, continuation });
    const pendingMessages = await pendingMessagesSealedUnder(db, ids[index]);
    uses.push({
      id: ids[index],
      sessions: sessions.count,
      sessionsUntil: sessions.lastUsableAt,
      sessionsUntilIfContinued: sessions.lastUsableIfContinuedAt,
      pendingMessages,
    });
  }
  return uses;
}

/** One line of `--check` for a key that is no longer current. */
export function describeOlderKeyUse(use: OlderKeyUse): string {
  const needs: string[] = [];
  if (use.sessions > 0 && use.sessionsUntil !== null) {
    const until = new Date(use.sessionsUntil).toISOString();
    const latest = use.sessionsUntilIfContinued ?? use.sessionsUntil;
    const ifContinued = latest > use.sessionsUntil ? ` (${new Date(latest).toISOString()} at the latest, if one is continued with a new token)` : '';
    needs.push(`${use.sessions} session(s) may use it until ${until}${ifContinued}`);
  }
  if (use.pendingMessages > 0) needs.push(`${use.pendingMessages} message(s) sealed with it wait to be sent`);
  return needs.length > 0 ? `keys: "${use.id}" is still needed: ${needs.join('; ')}` : `keys: "${use.id}" is no longer needed: it may be removed`;
}

/** At start, with more than one key in the ring: a log line per older key, saying whether it is still needed. */
export async function logOlderKeyUse(
  db: Kysely<Database>,
  keyring: Keyring,
  now: number,
  tokenLifetimesMs: Readonly<Record<Medium, number>>,
  logger: Logger,
): Promise<void> {
  if (keyring.keys.length < 2) return;
  const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  for (const use of await olderKeysInUse(db, keyring, now, tokenLifetimesMs)) {
    const fields = {
      key: use.id,
      sessions: use.sessions,
      until: time(use.sessionsUntil),
      until_if_continued: time(use.sessionsUntilIfContinued),
      pending_messages: use.pendingMessages,
    };
    if (use.sessions + use.pendingMessages > 0) logger.info(fields, 'an older outbox key is still needed: keep it in the ring');
    else logger.info(fields, 'an older outbox key is no longer needed: it may be removed');
  }
}

/**
 * The keyring the module would start with, creating nothing: undefined while
 * the generated key file does not exist yet.
 * @throws ConfigError naming the key or file that is unusable.
 */
function existingKeyring(config: Config): Keyring | undefined {
  const generated = !config.outbox.keys && !config.outbox.keyFile;
  if (generated && !existsSync(secretFilePath(config.database.path, 'outbox-keys'))) return undefined;
  return loadOutboxKeyring(config, false, silentLogger);
}

/** `--check`'s lines on the outbox keys: which is current, and whether each older one is still needed. */
export async function keyReport(config: Config, now: number): Promise<string[]> {
  const keyring = existingKeyring(config);
  if (!keyring) return ['keys: none yet (a key file is generated at the first start)'];
  const uses = await readDatabase(config.database, (db) => olderKeysInUse(db, keyring, now, tokenLifetimesOf(config)));
  return [`keys: "${keyring.current.id}" is current`, ...uses.map(describeOlderKeyUse)];
}

/** The token lifetimes `config` gives each medium: they bound how long a continued session lives. */
export function tokenLifetimesOf(config: Config): Record<Medium, number> {
  return { email: config.email.validationTokenLifetimeMs, msisdn: config.sms.validationTokenLifetimeMs };
}
