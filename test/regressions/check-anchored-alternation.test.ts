/**
 * `--check` and the start log said of `^[^@]+@a\.example$|^[^@]+@b\.example$`
 * (and of `(?:^[^@]+@c\.example$)`) that it "does not end in $" and "also
 * admits addresses that go on past it": only a `$` at the very end of the
 * top-level sequence counted, so a pattern anchored on every branch, or
 * inside a group, was warned about though it admits no longer address.
 * Now every way through the pattern is followed; a pattern with one
 * branch that can stop short is still warned about.
 */
import { looseEnds } from '../../src/policy/address-policy';
import { endsInAnchor } from '../../src/policy/python-regex';

const email = (pattern: string) => ({ medium: 'email', pattern });

describe('a pattern anchored at the end of every branch is not warned about', () => {
  it.each([
    '^[^@]+@a\\.example$|^[^@]+@b\\.example$',
    '(?:^[^@]+@c\\.example$)',
    '^[^@]+@(?:a\\.example$|b\\.example\\Z)',
    '(?i)^(?:[^@]+@a\\.example$|[^@]+@b\\.example$)',
  ])('%s', (pattern) => {
    expect(endsInAnchor(pattern)).toBe(true);
    expect(looseEnds([email(pattern)])).toEqual([]);
  });

  it.each([
    ['a branch without $', '^[^@]+@a\\.example$|^[^@]+@b\\.example'],
    ['a group whose branch stops short', '^[^@]+@(?:a\\.example$|b\\.example)'],
    ['an anchored group that may be skipped', '^[^@]+@a\\.example(?:$)?'],
    ['an empty branch', '^[^@]+@a\\.example$|'],
  ])('still warns about %s', (_case, pattern) => {
    expect(endsInAnchor(pattern)).toBe(false);
    expect(looseEnds([email(pattern)])).toHaveLength(1);
  });
});
