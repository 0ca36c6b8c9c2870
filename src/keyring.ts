import { createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/** A key's id: what a sealed payload names to say which key opens it. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Each key is 32 random bytes (256 bits), written in base64 or base64url. */
const KEY_BYTES = 32;

/** One key of the ring, as written: `id:base64`. */
export interface KeyLine {
  readonly id: string;
  readonly secret: Buffer;
}

/**
 * Parses `id:base64` (32 bytes). Answers the reason when it is not one, so
 * that the caller can name the config key or file it came from; the reason
 * never repeats the secret.
 */
export function parseKeyLine(text: string): KeyLine | string {
  const colon = text.indexOf(':');
  if (colon === -1) return 'must be "id:key" (key: 32 random bytes in base64)';
  const id = text.slice(0, colon).trim();
  const encoded = text.slice(colon + 1).trim();
  if (!KEY_ID_PATTERN.test(id)) return `key id must match ${KEY_ID_PATTERN.source}`;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) return `key "${id}" is not base64`;
  const secret = Buffer.from(encoded, 'base64');
  if (secret.length !== KEY_BYTES) return `key "${id}" must be ${KEY_BYTES} bytes (it is ${secret.length})`;
  return { id, secret };
}

/** A new key line, `k<yyyymmddhhmmss>:<32 random bytes, base64url>`, for a key file or the config. */
export function generateKeyLine(now = new Date()): string {
  const stamp = now.toISOString().replace(/[^0-9]/g, '').slice(0, 14);
  return `k${stamp}:${randomBytes(KEY_BYTES).toString('base64url')}`;
}

/** A key of the ring, with the subkeys each use derives from it (HKDF-SHA256). */
export interface RingKey {
  readonly id: string;
  /** AES-256-GCM key for outbox payloads. */
  readonly payloadKey: Buffer;
  /** AES-256 key for the permutation that makes stored identifiers opaque outside. */
  readonly idKey: Buffer;
  /** HMAC-SHA-256 key for the stored forms of tokens and client secrets (imported once: the hot path only MACs). */
  readonly secretMacKey: KeyObject;
}

function derive(secret: Buffer, use: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `matrix-hs-threepid ${use}`, 32));
}

/**
 * The module's keys. The first seals everything new; the others are kept
 * only to open what they sealed before a rotation (and to read identifiers
 * handed out, and check tokens and client secrets stored, before it). Keys
 * are never stored in the database. The ring lists them newest first, as
 * the rotation steps leave it: what depends on an older key is told by
 * that order (see the key report).
 */
export class Keyring {
  readonly keys: readonly RingKey[];

  constructor(lines: readonly KeyLine[]) {
    if (lines.length === 0) throw new Error('a keyring needs at least one key');
    const ids = new Set<string>();
    this.keys = lines.map(({ id, secret }) => {
      if (ids.has(id)) throw new Error(`key id "${id}" appears twice`);
      ids.add(id);
      return Object.freeze({
        id,
        payloadKey: derive(secret, 'outbox payload v1'),
        idKey: derive(secret, 'identifier v1'),
        secretMacKey: createSecretKey(derive(secret, 'secret mac v1')),
      });
    });
  }

  /** The key new data is sealed with. */
  get current(): RingKey {
    return this.keys[0];
  }

  find(id: string): RingKey | undefined {
    return this.keys.find((key) => key.id === id);
  }

  /**
   * Parses a key file or a list: one `id:key` per line (or per item), blank
   * lines and `#` comments ignored, the current key first.
   * @throws Error with the reason (which never contains a key).
   */
  static parse(entries: string | readonly string[]): Keyring {
    const lines = (typeof entries === 'string' ? entries.split(/\r?\n/) : entries)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const parsed = lines.map((line, index) => {
      const key = parseKeyLine(line);
      if (typeof key === 'string') throw new Error(`entry ${index + 1}: ${key}`);
      return key;
    });
    return new Keyring(parsed);
  }

  /** A ring of one random key that lives only in this process (for an in-memory database). */
  static ephemeral(): Keyring {
    return new Keyring([{ id: 'ephemeral', secret: randomBytes(KEY_BYTES) }]);
  }
}
