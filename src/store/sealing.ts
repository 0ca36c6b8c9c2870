import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Keyring } from '../keyring';

/**
 * How an outbox payload is kept at rest. The payload holds what confirms a
 * session (the emailed link with its token, a text message's code) and the
 * address, so it is sealed before it is written: a copy of the database (a
 * backup, a replica, an old page in a WAL) holds nothing that confirms a
 * session without the key, which is never in the database.
 */
export interface PayloadSealer {
  /** The stored form of `plaintext` for the row `rowId`. */
  seal(rowId: string, plaintext: string): string;
  /** The plaintext back. @throws UnreadablePayload when it cannot be opened. */
  open(rowId: string, stored: string): string;
}

/** A stored payload that cannot be opened: its key is gone, or it was altered or moved to another row. */
export class UnreadablePayload extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnreadablePayload';
  }
}

const FORMAT = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM with a random 96-bit nonce per message and the row id as
 * associated data (a sealed payload copied into another row does not open).
 * Stored as `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id
 * says which key of the ring opens it, so keys can be rotated while older
 * messages are still waiting.
 */
export class AesGcmSealer implements PayloadSealer {
  /**
   * `randomNonce` gives 12 bytes from a CSPRNG (the module's pooled one; a
   * `randomBytes` call costs microseconds of its own). Never a seeded or
   * repeating source: a nonce used twice under one key gives GCM away.
   */
  constructor(
    private readonly keyring: Keyring,
    private readonly randomNonce: (length: number) => Buffer = randomBytes,
  ) {}

  seal(rowId: string, plaintext: string): string {
    const { id, payloadKey } = this.keyring.current;
    const nonce = this.randomNonce(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', payloadKey, nonce);
    cipher.setAAD(Buffer.from(rowId, 'utf8'));
    const body = Buffer.concat([nonce, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${id}.${body.toString('base64url')}`;
  }

  open(rowId: string, stored: string): string {
    const [format, keyId, encoded, extra] = stored.split('.');
    if (format !== FORMAT || !keyId || encoded === undefined || extra !== undefined) {
      throw new UnreadablePayload('payload is not sealed (written before sealing, or by something else)');
    }
    const key = this.keyring.find(keyId);
    if (!key) throw new UnreadablePayload(`payload sealed with key "${keyId}", which is not in the keyring`);
    const body = Buffer.from(encoded, 'base64url');
    if (body.length < NONCE_BYTES + TAG_BYTES) throw new UnreadablePayload('sealed payload is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.payloadKey, body.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(rowId, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new UnreadablePayload(`sealed payload does not open with key "${keyId}" (altered, or moved from another row)`);
    }
  }
}
