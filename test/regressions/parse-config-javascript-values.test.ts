// Regression: parseConfig threw a DOMException from structuredClone (quoting
// a function's source) for values only JavaScript passes: a function, a
// Symbol, a Proxy, a Promise. Each is now a ConfigError naming the key and
// echoing no value.
import { ConfigError, parseConfig } from '../../src/index';

it.each<[string, unknown, RegExp]>([
  ['a function', { server_name: () => 'secret-source-text' }, /^config: server_name: Expected string, received function$/],
  ['a Symbol', { server_name: Symbol('secret-source-text') }, /^config: server_name: Expected string, received symbol$/],
  ['a Proxy section with a bad key', { email: new Proxy({ smtp_port: 'secret-source-text' }, {}) }, /^config: email\.smtp_port: Expected number, received string$/],
  ['a function next to a bad key', { email: { smtp_port: 'x', smtp_host: () => 'secret-source-text' } }, /email\.smtp_host: Expected string, received function/],
  ['a Promise (an await forgotten)', { database: Promise.resolve({ path: 'secret-source-text' }) }, /^config: database: Expected object, received promise$/],
])('%s: a ConfigError naming the key', (_what, raw, message) => {
  let thrown: unknown;
  try {
    parseConfig(raw as never);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).not.toContain('secret-source-text');
});
