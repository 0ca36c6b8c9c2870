// Regression: public functions a JavaScript host calls threw a TypeError
// from deep inside on a missing or mistyped argument; each now answers a
// ThreepidError M_INVALID_PARAM naming what is wrong.
import {
  canonicaliseEmail,
  createApp,
  createLogger,
  createThreepidModule,
  engineOf,
  errorMiddleware,
  migrate,
  openDatabase,
  openPostgresDatabase,
  openSqliteDatabase,
  requireThreepidStage,
  ThreepidError,
  uiaChallengeBody,
  withThreepidVersions,
} from '../../src/index';

const checker = { checkThreepidAuth: async () => ({}) };
const auth = { type: 'm.login.email.identity', threepid_creds: { sid: 'a', client_secret: 'b' } };
const request = { flows: [{ stages: ['m.login.email.identity'] }], session: 's', flow: 'register', consume: true };
/** A call as JavaScript makes it, whatever the types say. */
const loosely = (fn: unknown, ...args: unknown[]) => (fn as (...given: unknown[]) => unknown)(...args);

it.each<[string, () => unknown, RegExp]>([
  ['requireThreepidStage without a request', () => loosely(requireThreepidStage, auth, undefined, checker), /^request must be an object/],
  ['requireThreepidStage without flows', () => loosely(requireThreepidStage, undefined, { ...request, flows: undefined }, checker), /^request\.flows must be a list/],
  ['requireThreepidStage with flows: [{}]', () => loosely(requireThreepidStage, undefined, { ...request, flows: [{}] }, checker), /^request\.flows must be a list/],
  ['requireThreepidStage without a session', () => loosely(requireThreepidStage, auth, { ...request, session: 5 }, checker), /^request\.session must be a string/],
  ['requireThreepidStage with completed not a list', () => loosely(requireThreepidStage, auth, { ...request, completed: 'x' }, checker), /^request\.completed must be/],
  ['requireThreepidStage with an unknown flow', () => loosely(requireThreepidStage, auth, { ...request, flow: 'login' }, checker), /^flow must be one of/],
  ['requireThreepidStage with consume not a boolean', () => loosely(requireThreepidStage, auth, { ...request, consume: 'yes' }, checker), /^request\.consume must be true or false/],
  ['requireThreepidStage without a checker', () => loosely(requireThreepidStage, auth, request, undefined), /^checker must have a checkThreepidAuth/],
  ['uiaChallengeBody(undefined)', () => loosely(uiaChallengeBody, undefined), /^challenge must be an object/],
  ['uiaChallengeBody with params a list', () => loosely(uiaChallengeBody, { ...request, params: [] }), /^challenge\.params must be an object/],
  ['withThreepidVersions(undefined)', () => loosely(withThreepidVersions, undefined), /^withThreepidVersions takes the \/versions body/],
  ['withThreepidVersions with unstable_features null', () => loosely(withThreepidVersions, { versions: [], unstable_features: null }), /^unstable_features must be an object/],
  ['canonicaliseEmail(undefined)', () => loosely(canonicaliseEmail, undefined), /must be a string; got undefined$/],
  ['canonicaliseEmail(42)', () => loosely(canonicaliseEmail, 42), /must be a string; got number$/],
  ['createThreepidModule(undefined)', () => loosely(createThreepidModule, undefined), /^createThreepidModule takes \{ config \}/],
  ['createThreepidModule with a raw config', () => loosely(createThreepidModule, { config: { server_name: 'x' } }), /^createThreepidModule takes \{ config \}/],
  ['engineOf(undefined)', () => loosely(engineOf, undefined), /^db must be a Kysely instance$/],
  ['migrate with a plain object', () => loosely(migrate, {}), /^db must be a Kysely instance$/],
  ['migrate(undefined, engine)', () => loosely(migrate, undefined, 'sqlite'), /^db must be a Kysely instance$/],
  ['openDatabase(undefined)', () => loosely(openDatabase, undefined), /^settings must be a config's database settings/],
  ['openDatabase with no path', () => loosely(openDatabase, { engine: 'sqlite' }), /^settings\.path must be a non-empty string$/],
  ['openSqliteDatabase(undefined)', () => loosely(openSqliteDatabase, undefined), /^file must be a non-empty string$/],
  ['openPostgresDatabase(5)', () => loosely(openPostgresDatabase, 5), /^url must be a non-empty string$/],
  ['openPostgresDatabase with maxConnections "10"', () => loosely(openPostgresDatabase, 'postgres://127.0.0.1:1/x', '10'), /^maxConnections must be a positive integer$/],
  ['createApp with an object for routers', () => loosely(createApp, {}, createLogger('silent')), /^routers must be a router/],
  ['createApp without a logger', () => loosely(createApp, [], undefined), /^logger must have debug, info, warn and error/],
  ['errorMiddleware(undefined)', () => loosely(errorMiddleware, undefined), /^logger must have debug, info, warn and error/],
  ['createLogger(null)', () => loosely(createLogger, null), /^level must be one of/],
  ['createLogger with an unknown format', () => loosely(createLogger, 'info', 'xml'), /^format must be 'json' or 'pretty'$/],
])('%s: M_INVALID_PARAM naming the argument', async (_what, call, message) => {
  let thrown: unknown;
  try {
    await call();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ThreepidError);
  expect(thrown).toMatchObject({ errcode: 'M_INVALID_PARAM', message: expect.stringMatching(message) });
});

it('well-formed arguments still work', async () => {
  expect(withThreepidVersions({ versions: ['v1.11'] })).toEqual({ versions: ['v1.11'], unstable_features: { 'm.require_identity_server': false } });
  expect(canonicaliseEmail(' A@Example.org ')).toBe('a@example.org');
  expect(uiaChallengeBody({ flows: [{ stages: ['m.login.email.identity'] }], session: 's' })).toEqual({ flows: [{ stages: ['m.login.email.identity'] }], params: {}, session: 's', completed: [] });
});
