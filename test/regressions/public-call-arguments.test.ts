/**
 * A host calls the module's homeserver API from its own code, JavaScript
 * as often as TypeScript. `consume(undefined, …)` threw a bare TypeError,
 * and an unknown flow came back as M_NO_VALID_SESSION, as if the session
 * were the problem. Each argument is now checked and named.
 */
import path from 'node:path';
import { removeDir, startModule, tempDir, type Running } from '../support/harness';

describe("the module's homeserver calls check their arguments", () => {
  let dir: string;
  let hs: Running;

  beforeAll(async () => {
    dir = tempDir();
    hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') } });
  });

  afterAll(async () => {
    await hs.close();
    removeDir(dir);
  });

  const invalid = (message: RegExp) => expect.objectContaining({ errcode: 'M_INVALID_PARAM', message: expect.stringMatching(message) });
  // What a JavaScript host, or a TypeScript one with `any`, can pass.
  const anyArgs = (...args: unknown[]) => args as never[];

  it.each([
    ['consume without a sid', () => hs.module.consume(...(anyArgs(undefined, 'secret', 'register') as [never, never, never])), /^sid must be a string/],
    ['consume with a number for client_secret', () => hs.module.consume(...(anyArgs('sid', 42, 'register') as [never, never, never])), /^client_secret must be/],
    ['consume with an unknown flow', () => hs.module.consume(...(anyArgs('sid', 'secret', 'login') as [never, never, never])), /^flow must be one of register, password, 3pid; got "login"$/],
    ['consume with credentials that are not an object', () => hs.module.consume(...(anyArgs('sid', 'secret', 'register', 'id.example') as [never, never, never, never])), /^creds must be an object/],
    ['getValidated with a bad id_server type', () => hs.module.getValidated(...(anyArgs('sid', 'secret', { idServer: 7 }) as [never, never, never])), /^creds\.idServer must be a string$/],
    ['checkThreepidAuth with an unknown flow', () => hs.module.checkThreepidAuth({}, ...(anyArgs('reset', true) as [never, never])), /^flow must be one of .*got "reset"$/],
    ['checkThreepidAuth with consume not a boolean', () => hs.module.checkThreepidAuth({}, ...(anyArgs('register', 'yes') as [never, never])), /^consume must be true or false$/],
  ])('%s: M_INVALID_PARAM naming the argument', async (_what, call, message) => {
    await expect(call()).rejects.toEqual(invalid(message));
  });

  it('well-formed arguments reach the session checks', async () => {
    await expect(hs.module.consume('unknown-sid', 'secret', 'register')).rejects.toMatchObject({ errcode: 'M_NO_VALID_SESSION' });
  });
});
