import { z } from 'zod';
import { parseKeyLine } from '../keyring';
import { SECRET_ENV, duration, secret, section, type Env, type Report, type Settings } from './common';

/** `outbox`: the queue of messages to send, and the keys that seal them at rest. */
export const OUTBOX = section(
  z
    .object({
      lease: duration('1m').describe('How long a replica that claims a message has it, in the database\'s clock; if it dies while sending, another retries after the lease. Must be longer than `send_timeout`.'),
      send_timeout: duration('45s').describe('How long one send (an email or a text) may take in all; a send still going then is dropped and retried with backoff.'),
      concurrency: z.number().int().min(1).max(1000).default(8).describe('Messages of each channel (email, sms) sent at once, so a slow email server never holds texts.'),
      batch_size: z.number().int().min(1).max(1000).optional().describe('Obsolete (messages used to be claimed in rounds of this many): accepted in old configs, and ignored.'),
      keys: z.array(z.string().min(1)).min(1).optional().describe('Keys that seal each message\'s payload (AES-256-GCM), each `id:key` with 32 random bytes in base64. The first seals, the others only open older messages. Unset, with no `key_file`: a key is generated into `outbox-keys` beside the database.'),
      key_file: z.string().min(1).optional().describe('A file of outbox keys, one per line, instead of `keys`.'),
    })
    .strict()
    .default({}),
);

type Outbox = z.output<typeof OUTBOX>;

/** Where the outbox keys come from: the environment, the config's list, or a file. Each is checked here. */
function outboxKeys(raw: Outbox, env: Env, report: Report): { keys?: readonly string[]; keyFile?: string } {
  const fromEnv = secret('outbox.keys', undefined, env, report)
    ?.split(/[\n,]/)
    .map((key) => key.trim())
    .filter((key) => key !== '');
  const keys = fromEnv?.length ? fromEnv : raw.keys;
  if (!fromEnv?.length && raw.keys && raw.key_file) report('outbox', 'give keys or key_file, not both');
  const where = fromEnv?.length ? SECRET_ENV['outbox.keys'] : 'outbox.keys';
  const ids = new Set<string>();
  keys?.forEach((text, index) => {
    const key = parseKeyLine(text);
    if (typeof key === 'string') return report(`${where}.${index}`, key);
    if (ids.has(key.id)) report(`${where}.${index}`, `key id "${key.id}" appears twice`);
    ids.add(key.id);
  });
  return keys ? { keys } : raw.key_file ? { keyFile: raw.key_file } : {};
}

export function toOutbox(raw: Outbox, env: Env, report: Report) {
  if (raw.lease <= raw.send_timeout) report('outbox.lease', 'must be longer than outbox.send_timeout: a send must end before its lease does');
  return {
    /** How long a claimed message is reserved for its sender; then any replica may retry it. */
    leaseMs: raw.lease,
    /** How long one send may take in all before it counts as a temporary failure (its connection dropped). */
    sendTimeoutMs: raw.send_timeout,
    /** Messages of one channel in flight at once. */
    concurrency: raw.concurrency,
    ...outboxKeys(raw, env, report),
  };
}

export type OutboxSettings = Settings<ReturnType<typeof toOutbox>>;
