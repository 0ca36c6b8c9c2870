/**
 * `(?a)(?u)` (or `(?u)(?a)`) at the start of a pattern was accepted, the
 * later group winning, though Python refuses it (`ValueError: ASCII and
 * UNICODE flags are incompatible`): Synapse would not start with it, and a
 * pattern Python cannot run must be a config error here too. One group
 * holding both (`(?au)`) was refused already; a scoped `(?u:…)` under a
 * global `(?a)` is valid Python and stays accepted. Held to the real Python.
 */
import { ConfigError, parseConfig } from '../../src/config';
import { compilePythonPattern, PatternError } from '../../src/policy/python-regex';
import { askPython } from '../support/python-re';

const REFUSED = ['(?a)(?u)x', '(?u)(?a)x', '(?a)(?#c)(?u)x', '(?ai)(?su)x'];
const ACCEPTED = ['(?a)(?u:x)', '(?u)(?a:x)', '(?a)(?i)x', '(?u)(?u)x'];

describe('global ASCII and UNICODE flags together', () => {
  it('Python refuses these and accepts those (the reference)', () => {
    const answers = askPython([...REFUSED, ...ACCEPTED].map((pattern) => [pattern, 'x'] as const));
    expect(answers.map((answer) => 'error' in answer)).toEqual([...REFUSED.map(() => true), ...ACCEPTED.map(() => false)]);
  });

  it.each(REFUSED)('%s is a PatternError', (pattern) => {
    expect(() => compilePythonPattern(pattern)).toThrow(PatternError);
    expect(() => compilePythonPattern(pattern)).toThrow(/ASCII and UNICODE flags are incompatible/);
  });

  it.each(ACCEPTED)('%s is accepted', (pattern) => {
    expect(compilePythonPattern(pattern).matchesAtStart('x')).toBe(true);
  });

  it('is a config error naming its key', () => {
    expect(() => parseConfig({ allowed_local_3pids: [{ medium: 'email', pattern: '(?a)(?u)^[^@]+@example\\.org$' }] })).toThrow(ConfigError);
    expect(() => parseConfig({ allowed_local_3pids: [{ medium: 'email', pattern: '(?a)(?u)^[^@]+@example\\.org$' }] })).toThrow(
      /allowed_local_3pids\.0\.pattern/,
    );
  });
});
