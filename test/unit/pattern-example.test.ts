import { looseEndExample } from '../../src/policy/pattern-example';
import { askPython } from '../support/python-re';

// Each example is checked against the real Python `re.match`: Synapse would admit that address.
const LOOSE: Array<readonly [string, 'email' | 'msisdn', string]> = [
  ['^[^@]+@example\\.org', 'email', 'a@example.org.attacker.example'],
  ['[^@]+@matrix\\.org', 'email', 'a@matrix.org.attacker.example'],
  ['^\\w+@(?:example|matrix)\\.org', 'email', 'a@example.org.attacker.example'],
  ['^[A-Z0-9._%+-]+@example\\.org', 'email', '0@example.org.attacker.example'],
  ['(?i)^[A-Z]+@Example\\.org', 'email', 'a@Example.org.attacker.example'],
  ['(?a)^a@example\\.org\\B', 'email', 'a@example.orgattacker.example'],
  ['^.+@example\\.(org|net)', 'email', 'a@example.org.attacker.example'],
  ['^a{2,3}@x\\.y', 'email', 'aa@x.y.attacker.example'],
  ['^a?b*@x{0}y', 'email', 'ab@y.attacker.example'],
  ['^\\S+@\\s?example\\.org', 'email', 'a@ example.org.attacker.example'],
  ['^a@(?:$|example\\.org)', 'email', 'a@example.org.attacker.example'],
  ['(?a)^a@example\\.org\\b', 'email', 'a@example.org.attacker.example'],
  ['^44\\d{10}', 'msisdn', '4400000000000000'],
  ['^44[0-9]+', 'msisdn', '4400000'],
  ['^(?:44|33)\\d', 'msisdn', '4400000'],
];

it.each(LOOSE)('%s (%s) admits %s, and so does Python', (source, medium, example) => {
  expect(looseEndExample(source, medium)).toBe(example);
  expect(askPython([[source, example]])[0]).toEqual(expect.objectContaining({ match: true }));
});

it.each([
  ['^[^@]+@example\\.org$', 'email'],
  ['^[^@]+@example\\.org\\Z', 'email'],
  ['^44\\d{10}$', 'msisdn'],
  ['^(?:a@example\\.org$)', 'email'],
  ['^a@example\\.org$|^b@example\\.org$', 'email'],
  ['^a@example\\.org(?:$)', 'email'],
  ['^[^\\d]', 'msisdn'],
  ['(?=a)', 'email'],
  ['(', 'email'],
] as const)('finds no loose end in %s (%s)', (source, medium) => {
  expect(looseEndExample(source, medium)).toBeUndefined();
});

it('picks a member of a class that holds none of the usual characters', () => {
  expect(looseEndExample('^[\\u00e9]@x', 'email')).toBe('é@x.attacker.example');
  expect(looseEndExample('^[\\U0001F600]@x', 'email')).toBeUndefined();
});
