import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { Keyring } from '../../../src/keyring';
import { cryptoRandom, type RandomSource } from '../../../src/sources';
import { hashesEqual, IdCodec, SecretMacs, randomId, sortableDecode, sortableEncode, timeOrderedId } from '../../../src/threepid/tokens';
import { OPAQUE_ID_PATTERN } from '../../../src/threepid/request-body';

/** A clock stopped at `now`. */
const at = (now: number) => ({ now: () => now });

/** Bytes 0, 1, 2, … in order: the simplest reproducible source. */
function countingRandom(): RandomSource & { requested: number[] } {
  let next = 0;
  const requested: number[] = [];
  return {
    requested,
    bytes(length: number) {
      requested.push(length);
      return Buffer.from(Array.from({ length }, () => next++ & 0xff));
    },
  };
}

describe('randomId', () => {
  it('is 22 characters of the opaque-identifier alphabet', () => {
    for (let i = 0; i < 200; i++) {
      const id = randomId(cryptoRandom);
      expect(id).toHaveLength(22);
      expect(id).toMatch(/^[0-9a-zA-Z_-]{22}$/);
      expect(id).toMatch(OPAQUE_ID_PATTERN);
    }
  });

  it('takes 16 bytes (128 bits) from the injected random source', () => {
    const random = countingRandom();
    expect(randomId(random)).toBe('AAECAwQFBgcICQoLDA0ODw');
    expect(randomId(random)).toBe('EBESExQVFhcYGRobHB0eHw');
    expect(random.requested).toEqual([16, 16]);
  });

  it('covers the whole alphabet, including - and _', () => {
    expect(randomId({ bytes: (n) => Buffer.alloc(n, 0xff) })).toBe('_____________________w');
    expect(randomId({ bytes: (n) => Buffer.alloc(n, 0xfb) })).toBe('-_v7-_v7-_v7-_v7-_v7-w');
    expect(randomId({ bytes: (n) => Buffer.alloc(n, 0) })).toBe('AAAAAAAAAAAAAAAAAAAAAA');
  });

  it('differs between calls with the real source', () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomId(cryptoRandom)));
    expect(ids.size).toBe(100);
  });
});

describe('SecretMacs', () => {
  const ringA = new Keyring([{ id: 'a', secret: Buffer.alloc(32, 1) }]);
  const rotated = new Keyring([{ id: 'b', secret: Buffer.alloc(32, 2) }, { id: 'a', secret: Buffer.alloc(32, 1) }]);
  const plainSha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url');

  it('stores HMAC-SHA-256 under a key derived from the ring, naming the key (stable across runs and versions)', () => {
    const macs = new SecretMacs(ringA);
    expect(macs.mac('123456')).toMatch(/^v1\.a\.[A-Za-z0-9_-]{43}$/);
    expect(macs.mac('123456')).toBe(macs.mac('123456'));
    expect(macs.mac('123456')).not.toBe(macs.mac('123457'));
    expect(macs.mac('123456')).not.toContain(plainSha256('123456'));
    const derived = hkdfSync('sha256', Buffer.alloc(32, 1), Buffer.alloc(0), 'matrix-hs-threepid secret mac v1', 32);
    expect(macs.mac('abc')).toBe(`v1.a.${createHmac('sha256', Buffer.from(derived)).update('abc').digest('base64url')}`);
  });

  it('is keyed: another key gives another value for the same secret', () => {
    expect(new SecretMacs(rotated).mac('123456').slice(5)).not.toBe(new SecretMacs(ringA).mac('123456').slice(5));
  });

  it('matches what the same secret was stored as, under any key still in the ring, and nothing else', () => {
    const stored = new SecretMacs(ringA).mac('123456');
    const macs = new SecretMacs(rotated);
    expect(macs.mac('123456')).toMatch(/^v1\.b\./);
    expect(macs.matches(stored, '123456')).toBe(true);
    expect(macs.matches(stored, '123457')).toBe(false);
    expect(macs.matches(macs.mac('123456'), '123456')).toBe(true);
    // The key it names is gone.
    expect(new SecretMacs(new Keyring([{ id: 'b', secret: Buffer.alloc(32, 2) }])).matches(stored, '123456')).toBe(false);
    // Another key under the same id.
    expect(new SecretMacs(new Keyring([{ id: 'a', secret: Buffer.alloc(32, 3) }])).matches(stored, '123456')).toBe(false);
  });

  it('still matches rows stored before MACs (a plain SHA-256), and never an empty or malformed value', () => {
    const macs = new SecretMacs(rotated);
    expect(macs.matches(plainSha256('client-secret-1'), 'client-secret-1')).toBe(true);
    expect(macs.matches(plainSha256('client-secret-1'), 'client-secret-2')).toBe(false);
    expect(macs.matches('', '')).toBe(false);
    expect(macs.matches('v1.b', '123456')).toBe(false);
    expect(macs.matches(`v2.b.${macs.mac('x').slice(5)}`, 'x')).toBe(false);
    expect(macs.matches(`${macs.mac('x')}.extra`, 'x')).toBe(false);
  });

  it('lists every stored form for lookups: each key of the ring, the current first, then the plain hash', () => {
    const forms = new SecretMacs(rotated).storedForms('s3cret');
    expect(forms).toEqual([new SecretMacs(rotated).mac('s3cret'), new SecretMacs(ringA).mac('s3cret'), plainSha256('s3cret')]);
  });
});

describe('hashesEqual', () => {
  it('is true for equal values', () => {
    expect(hashesEqual('v1.a.abcdef', 'v1.a.abcdef')).toBe(true);
  });

  it('is false for different values of the same length', () => {
    expect(hashesEqual('v1.a.abcdef', 'v1.a.abcdeg')).toBe(false);
  });

  it('is false (and does not throw) for different lengths', () => {
    expect(hashesEqual('v1.a.abcdef', 'v1.a.abcde')).toBe(false);
    expect(hashesEqual('', 'x')).toBe(false);
  });
});

describe('cryptoRandom (read from the CSPRNG a page at a time)', () => {
  it('answers the length asked for, across and beyond a page', () => {
    for (const length of [1, 16, 33, 4095, 4096, 4097, 10_000]) expect(cryptoRandom.bytes(length)).toHaveLength(length);
  });

  it('never hands out the same bytes twice, over several pages', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) seen.add(cryptoRandom.bytes(16).toString('hex'));
    expect(seen.size).toBe(2_000);
  });

  it('hands out copies: bytes already handed out do not change when the pool is refilled', () => {
    const handedOut = cryptoRandom.bytes(16);
    const before = Buffer.from(handedOut);
    for (let i = 0; i < 600; i++) cryptoRandom.bytes(16); // more than a page: the pool is refilled
    expect(handedOut.equals(before)).toBe(true);
  });

  it('is not all zeros or a repeating byte (the pool is really filled)', () => {
    const bytes = cryptoRandom.bytes(4096 + 64);
    expect(new Set(bytes).size).toBeGreaterThan(200);
  });
});

describe('timeOrderedId', () => {

  it('is 22 characters of the opaque-identifier alphabet', () => {
    const id = timeOrderedId(cryptoRandom, at(Date.now()));
    expect(id).toMatch(/^[0-9a-zA-Z_-]{22}$/);
    expect(id).toMatch(OPAQUE_ID_PATTERN);
  });

  it('starts with the time in milliseconds, then 80 random bits', () => {
    const random = countingRandom();
    const bytes = sortableDecode(timeOrderedId(random, at(1_800_000_000_123))) as Buffer;
    expect(bytes.readUIntBE(0, 6)).toBe(1_800_000_000_123);
    expect([...bytes.subarray(6)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(random.requested).toEqual([10]);
  });

  it('differs within the same millisecond, and shares its start with its neighbours in time', () => {
    const clock = at(1_800_000_000_000);
    const a = timeOrderedId(cryptoRandom, clock);
    const b = timeOrderedId(cryptoRandom, clock);
    expect(a).not.toBe(b);
    expect(a.slice(0, 7)).toBe(b.slice(0, 7));
    expect(timeOrderedId(cryptoRandom, at(1_800_000_000_001)).slice(0, 6)).toBe(a.slice(0, 6));
  });
});

describe('sortable ids', () => {
  it('sort as strings the way their times do, for every pair of adjacent milliseconds', () => {
    // base64url's alphabet put about 3 % of these pairs the wrong way round.
    const start = 1_800_000_000_000;
    const zero = { bytes: (length: number) => Buffer.alloc(length) };
    const high = { bytes: (length: number) => Buffer.alloc(length, 0xff) };
    let wrong = 0;
    for (let ms = start; ms < start + 20_000; ms++) {
      // The latest id of one millisecond against the earliest of the next.
      const earlier = timeOrderedId(high, at(ms));
      const later = timeOrderedId(zero, at(ms + 1));
      if (!(earlier < later)) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('sort as their bytes do', () => {
    const ids = Array.from({ length: 2000 }, () => cryptoRandom.bytes(16));
    const byBytes = [...ids].sort(Buffer.compare).map(sortableEncode);
    const byString = ids.map(sortableEncode).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(byString).toEqual(byBytes);
  });

  it('decode back, and refuse what they could not have made', () => {
    const bytes = cryptoRandom.bytes(16);
    expect(sortableDecode(sortableEncode(bytes))).toEqual(bytes);
    expect(sortableDecode('too-short')).toBeUndefined();
    expect(sortableDecode('a'.repeat(21) + '!')).toBeUndefined();
  });
});

describe('IdCodec', () => {
  const keyA = new Keyring([{ id: 'a', secret: Buffer.alloc(32, 1) }]);

  it('gives an outside id that carries no trace of the time, and maps it back', () => {
    const codec = new IdCodec(keyA);
    const first = timeOrderedId(cryptoRandom, at(1_800_000_000_000));
    const second = timeOrderedId(cryptoRandom, at(1_800_000_000_000));
    expect(first.slice(0, 8)).toBe(second.slice(0, 8));
    const [outFirst, outSecond] = [codec.external(first), codec.external(second)];
    expect(outFirst).toMatch(OPAQUE_ID_PATTERN);
    expect(outFirst).toHaveLength(22);
    // Same millisecond inside; outside, nothing in common beyond chance.
    expect(outFirst.slice(0, 4)).not.toBe(outSecond.slice(0, 4));
    expect(codec.candidates(outFirst)[0]).toBe(first);
  });

  it('still reads ids made under an older key, and ids stored before they were encrypted', () => {
    const old = new IdCodec(keyA);
    const rotated = new IdCodec(new Keyring([{ id: 'b', secret: Buffer.alloc(32, 2) }, { id: 'a', secret: Buffer.alloc(32, 1) }]));
    const stored = timeOrderedId(cryptoRandom, at(1_800_000_000_000));
    const handedOut = old.external(stored);
    expect(rotated.external(stored)).not.toBe(handedOut);
    expect(rotated.candidates(handedOut)).toContain(stored);
    const legacy = cryptoRandom.bytes(16).toString('base64url');
    expect(rotated.candidates(legacy)).toContain(legacy);
    expect(rotated.candidates('not-an-id')).toEqual(['not-an-id']);
  });
});
