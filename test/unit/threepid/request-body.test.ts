import { ThreepidError } from '../../../src/threepid/errors';
import {
  integerField,
  opaqueIdField,
  optionalStringField,
  parseSubmitTokenRequest,
  parseTokenRequestBase,
  requireFields,
  requireObject,
  stringField,
} from '../../../src/threepid/request-body';
import { thrown as thrownBy } from '../../support/thrown';

const thrown = (fn: () => unknown): ThreepidError => thrownBy(ThreepidError, fn);

describe('requireObject', () => {
  it('returns an object as is', () => {
    const body = { a: 1 };
    expect(requireObject(body)).toBe(body);
    expect(requireObject({})).toEqual({});
  });

  it.each([[null], [undefined], [[]], [[{ a: 1 }]], ['{}'], [1], [true]])('refuses %p with M_BAD_JSON', (body) => {
    expect(thrown(() => requireObject(body)).errcode).toBe('M_BAD_JSON');
  });
});

describe('requireFields', () => {
  it('passes when every field is present', () => {
    expect(() => requireFields({ a: 1, b: '', c: false, d: 0 }, ['a', 'b', 'c', 'd'])).not.toThrow();
  });

  it('names every missing field at once, in order', () => {
    const err = thrown(() => requireFields({ b: 1 }, ['a', 'b', 'c', 'd']));
    expect(err.errcode).toBe('M_MISSING_PARAM');
    expect(err.message).toBe('Missing parameter(s): a, c, d');
  });

  it('counts null as missing', () => {
    expect(thrown(() => requireFields({ a: null }, ['a'])).message).toContain('a');
  });
});

describe('stringField / optionalStringField', () => {
  it('returns strings and refuses other types', () => {
    expect(stringField({ a: 'x' }, 'a')).toBe('x');
    expect(thrown(() => stringField({ a: 1 }, 'a')).errcode).toBe('M_INVALID_PARAM');
    expect(thrown(() => stringField({}, 'a')).message).toContain('a must be a string');
  });

  it('treats absent and null as undefined for optional fields', () => {
    expect(optionalStringField({}, 'a')).toBeUndefined();
    expect(optionalStringField({ a: null }, 'a')).toBeUndefined();
    expect(optionalStringField({ a: 'x' }, 'a')).toBe('x');
    expect(thrown(() => optionalStringField({ a: 5 }, 'a')).errcode).toBe('M_INVALID_PARAM');
  });
});

describe('opaqueIdField', () => {
  it('accepts the spec alphabet up to 255 characters', () => {
    expect(opaqueIdField({ s: 'aZ09.=_-' }, 's')).toBe('aZ09.=_-');
    expect(opaqueIdField({ s: 'x'.repeat(255) }, 's')).toHaveLength(255);
  });

  it.each([[''], ['x'.repeat(256)], ['a b'], ['a/b'], ['a+b'], ['é'], ['a\nb']])('refuses %j', (value) => {
    expect(thrown(() => opaqueIdField({ s: value }, 's')).errcode).toBe('M_INVALID_PARAM');
  });
});

describe('integerField', () => {
  it('accepts non-negative integers', () => {
    expect(integerField({ n: 0 }, 'n')).toBe(0);
    expect(integerField({ n: 1 }, 'n')).toBe(1);
    expect(integerField({ n: Number.MAX_SAFE_INTEGER }, 'n')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    ['the string "1"', '1'],
    ['1.5', 1.5],
    ['-1', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['2^53', 2 ** 53],
    ['null', null],
    ['true', true],
    ['an array', [1]],
    ['an object', { valueOf: () => 1 }],
    ['a missing value', undefined],
  ])('refuses %s', (_name, value) => {
    const err = thrown(() => integerField({ n: value }, 'n'));
    expect(err.errcode).toBe('M_INVALID_PARAM');
    expect(err.message).toContain('n must be a non-negative integer');
  });
});

describe('parseTokenRequestBase', () => {
  it('reads the common fields', () => {
    expect(
      parseTokenRequestBase(
        { client_secret: 'secret', email: 'a@b.com', send_attempt: 1, next_link: 'https://x.org/', id_server: 'is.org' },
        ['email'],
      ),
    ).toEqual({
      clientSecret: 'secret',
      sendAttempt: 1,
      nextLink: 'https://x.org/',
      idServer: 'is.org',
      idAccessToken: undefined,
    });
  });

  it('names every missing field, the medium fields included', () => {
    expect(thrown(() => parseTokenRequestBase({}, ['email'])).message).toBe(
      'Missing parameter(s): client_secret, email, send_attempt',
    );
  });
});

describe('parseSubmitTokenRequest', () => {
  const valid = { sid: 'sid.1', client_secret: 'secret_1', token: 'tok-en' };

  it('reads sid, client_secret and token', () => {
    expect(parseSubmitTokenRequest(valid)).toEqual({ sid: 'sid.1', clientSecret: 'secret_1', token: 'tok-en' });
  });

  it('refuses a body that is not an object', () => {
    expect(thrown(() => parseSubmitTokenRequest([valid])).errcode).toBe('M_BAD_JSON');
    expect(thrown(() => parseSubmitTokenRequest(null)).errcode).toBe('M_BAD_JSON');
  });

  it('names every missing field', () => {
    const err = thrown(() => parseSubmitTokenRequest({ client_secret: 'x' }));
    expect(err.errcode).toBe('M_MISSING_PARAM');
    expect(err.message).toBe('Missing parameter(s): sid, token');
  });

  it('refuses a sid or client_secret outside the opaque alphabet', () => {
    expect(thrown(() => parseSubmitTokenRequest({ ...valid, sid: 'a/b' })).message).toContain('sid');
    expect(thrown(() => parseSubmitTokenRequest({ ...valid, client_secret: 'a b' })).message).toContain('client_secret');
  });

  it('refuses an empty, overlong or non-string token', () => {
    expect(thrown(() => parseSubmitTokenRequest({ ...valid, token: '' })).errcode).toBe('M_INVALID_PARAM');
    expect(thrown(() => parseSubmitTokenRequest({ ...valid, token: 'x'.repeat(256) })).errcode).toBe('M_INVALID_PARAM');
    expect(thrown(() => parseSubmitTokenRequest({ ...valid, token: 123456 })).errcode).toBe('M_INVALID_PARAM');
    expect(parseSubmitTokenRequest({ ...valid, token: 'x'.repeat(255) }).token).toHaveLength(255);
  });
});
