import { parseDuration } from '../../src/duration';

describe('parseDuration', () => {
  it.each([
    ['15m', 900_000],
    ['30s', 30_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1w', 604_800_000],
    ['250ms', 250],
    ['5000', 5000],
    ['1.5s', 1500],
    [' 10 m ', 600_000],
  ])('parses the string %j', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it('takes a number as milliseconds', () => {
    expect(parseDuration(5000)).toBe(5000);
    expect(parseDuration(1)).toBe(1);
  });

  it.each([
    ['soon'],
    ['1y'],
    ['1H'],
    ['-1s'],
    ['1e3'],
    ['1 h 30 m'],
    ['h'],
    [''],
    ['0'],
    ['0s'],
    ['0.0001s'],
    ['99999999999999999999w'],
  ])('refuses the string %j', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  it.each([[-1], [0], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY], [2 ** 53]])('refuses the number %p', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  it.each([[null], [undefined], [true], [{}], [['1h']]])('refuses the non-duration %p', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});
