import { z } from 'zod';
import { parseKeyLine } from '../keyring';
import { SECRET_ENV, duration, secret, section, type Env, type Report, type Settings } from './common';

/** `outbox`: the queue of messages to send, and the keys that seal them at rest. */
export const OUTBOX = section(
  z
    .object({
      lease: duration('1m'),
      send_timeout: duration('45s'),
      concurrency: z.number().int().min(1).max(1000).default(8),
      /** Messages claimed per round, before messages were claimed as sends end: accepted in old configs, and ignored. */
      batch_size: z.number().int().min(1).max(1000).optional(),
      keys: z.array(z.string().min(1)).min(1).optional(),
      key_file: z.string().min(1).optional(),
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
