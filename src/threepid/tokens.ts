import { createCipheriv, createDecipheriv, createHmac, hash, timingSafeEqual, type Cipher, type Decipher } from 'node:crypto';
import type { Keyring, RingKey } from '../keyring';
import type { Clock, RandomSource } from '../sources';

/**
 * A 128-bit random identifier in base64url: 22 characters, all inside the
 * spec's opaque-identifier alphabet `[0-9a-zA-Z.=_-]`. Used for `sid`s and
 * email tokens.
 */
export function randomId(random: RandomSource): string {
  return random.bytes(16).toString('base64url');
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same 64 characters in ASCII order: fixed-length strings sort as the bytes they encode. */
const SORTABLE = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const TO_SORTABLE = new Map([...BASE64URL].map((char, index) => [char, SORTABLE[index]]));
const FROM_SORTABLE = new Map([...SORTABLE].map((char, index) => [char, BASE64URL[index]]));

/**
 * 16 bytes as 22 characters of `-0-9A-Z_a-z` (base64's bit layout, an
 * alphabet in ASCII order): two ids compare as strings (byte order, as
 * SQLite and PostgreSQL's `C` collation compare) as their bytes do.
 * base64url's alphabet does not: `-` and `_` sort apart from the digits
 * and letters they follow.
 */
export function sortableEncode(bytes: Buffer): string {
  let out = '';
  for (const char of bytes.toString('base64url')) out += TO_SORTABLE.get(char);
  return out;
}

/** The 16 bytes back from {@link sortableEncode}; undefined for anything it cannot have made. */
export function sortableDecode(text: string): Buffer | undefined {
  if (text.length !== 22) return undefined;
  let base64 = '';
  for (const char of text) {
    const mapped = FROM_SORTABLE.get(char);
    if (mapped === undefined) return undefined;
    base64 += mapped;
  }
  const bytes = Buffer.from(base64, 'base64url');
  return bytes.length === 16 && sortableEncode(bytes) === text ? bytes : undefined;
}

/**
 * A 128-bit identifier that starts with the time: 48 bits of milliseconds,
 * then 80 random bits, {@link sortableEncode}d (22 characters of the
 * opaque-identifier alphabet). For keys that are stored in an index: new
 * rows land next to each other instead of on a random page, which with a
 * million stored sessions saved a fifth of an insert. Such a key tells
 * when it was made, so it stays inside: what leaves the server is
 * {@link IdCodec.external}.
 */
export function timeOrderedId(random: RandomSource, clock: Clock): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(Math.max(0, Math.min(clock.now(), 2 ** 48 - 1)), 0, 6);
  random.bytes(10).copy(bytes, 6);
  return sortableEncode(bytes);
}

/**
 * Turns the time-ordered keys the database stores into the opaque ids
 * clients and mail systems see (a `sid`, a Message-ID), and back. The
 * external id is the stored key's 16 bytes through AES-256 as a keyed
 * permutation of one block: as random-looking as a random id to anyone
 * without the key (the creation time cannot be read from it), while the
 * index still gets time-ordered keys. Going back needs no lookup table,
 * only the key; ids made under an older key of the ring decrypt with it,
 * so a rotation gives each stored key more than one valid outside form
 * and the caller tries each {@link candidates} entry.
 */
export class IdCodec {
  private readonly encrypt: Cipher;
  private readonly decrypt: ReadonlyArray<Decipher>;

  constructor(keyring: Keyring) {
    // ECB over exactly one block, with no padding: each update() is one
    // independent block operation, so one cipher object serves every call.
    this.encrypt = createCipheriv('aes-256-ecb', keyring.current.idKey, null).setAutoPadding(false);
    this.decrypt = keyring.keys.map((key) => createDecipheriv('aes-256-ecb', key.idKey, null).setAutoPadding(false));
  }

  /** The outside form of a stored key (base64url, 22 characters); a key it cannot decode is returned as it is. */
  external(stored: string): string {
    const bytes = sortableDecode(stored);
    return bytes ? this.encrypt.update(bytes).toString('base64url') : stored;
  }

  /**
   * The stored keys an outside id may stand for: one per key of the ring
   * (the current one first), then the id itself (a key stored before ids
   * were encrypted was handed out as it is).
   */
  candidates(external: string): string[] {
    const bytes = Buffer.from(external, 'base64url');
    if (bytes.length !== 16 || bytes.toString('base64url') !== external) return [external];
    return [...this.decrypt.map((decipher) => sortableEncode(decipher.update(bytes))), external];
  }
}

const MAC_FORMAT = 'v1';

/**
 * The stored forms of tokens and client secrets: HMAC-SHA-256 under a key
 * derived from the keyring (never in the database), written
 * `v1.<key id>.<base64url mac>`. A plain hash would not do: an SMS code has
 * 10^6 values and a client secret is whatever the client chose, so a copy
 * of the database and a plain hash give them away offline in a second. The
 * key id lets a value stored under an older key of the ring still be
 * checked after a rotation.
 */
export class SecretMacs {
  constructor(private readonly keyring: Keyring) {}

  /** The stored form of `secret`, under the current key. */
  mac(secret: string): string {
    return macUnder(this.keyring.current, secret);
  }

  /**
   * Every stored form `secret` may have, to look a row up by equality:
   * under each key of the ring (the current one first), then the plain
   * SHA-256 that rows written before MACs hold until they are purged.
   */
  storedForms(secret: string): string[] {
    return [...this.keyring.keys.map((key) => macUnder(key, secret)), legacyHash(secret)];
  }

  /**
   * Whether `stored` is a stored form of `secret`, compared in constant
   * time. False for a value under a key no longer in the ring, and for an
   * empty one (a session an identity server runs has no token here).
   */
  matches(stored: string, secret: string): boolean {
    const parts = stored.split('.');
    if (parts.length === 1) return stored !== '' && hashesEqual(stored, legacyHash(secret));
    const [format, keyId] = parts;
    const key = parts.length === 3 && format === MAC_FORMAT ? this.keyring.find(keyId) : undefined;
    return key !== undefined && hashesEqual(stored, macUnder(key, secret));
  }
}

function macUnder(key: RingKey, secret: string): string {
  return `${MAC_FORMAT}.${key.id}.${createHmac('sha256', key.secretMacKey).update(secret, 'utf8').digest('base64url')}`;
}

/** What rows written before MACs hold: an unkeyed SHA-256. Only ever compared with, never written. */
function legacyHash(secret: string): string {
  return hash('sha256', secret, 'base64url');
}

/** Compares two stored forms (or two MACs) in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
