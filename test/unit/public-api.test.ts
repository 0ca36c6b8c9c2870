import * as api from 'matrix-hs-threepid';
import * as config from '../../src/config';
import * as delivery from '../../src/delivery/errors';
import * as homeserver from '../../src/homeserver/client';
import * as app from '../../src/http/app';
import * as cors from '../../src/http/cors';
import * as errors from '../../src/http/errors';
import * as versions from '../../src/http/versions';
import * as identity from '../../src/identity/client';
import * as logger from '../../src/logger';
import * as moduleEntry from '../../src/module';
import * as sources from '../../src/sources';
import * as database from '../../src/store/database';
import * as engine from '../../src/store/engine';
import * as migrations from '../../src/store/migrations';
import * as email from '../../src/threepid/email';
import * as threepidErrors from '../../src/threepid/errors';
import * as uia from '../../src/threepid/uia';
import * as uiaStage from '../../src/threepid/uia-stage';

/**
 * The package entry is the only import a host needs: each value it exports,
 * by name, is the one its module defines (a renamed or dropped export, or
 * one wired to the wrong module, breaks hosts).
 */
const EXPECTED: Record<string, unknown> = {
  createThreepidModule: moduleEntry.createThreepidModule,
  parseConfig: config.parseConfig,
  loadConfigFile: config.loadConfigFile,
  ConfigError: config.ConfigError,
  ThreepidError: threepidErrors.ThreepidError,
  isThreepidError: threepidErrors.isThreepidError,
  IdentityServerError: identity.IdentityServerError,
  PermanentDeliveryError: delivery.PermanentDeliveryError,
  withThreepidVersions: versions.withThreepidVersions,
  REQUIRE_IDENTITY_SERVER_FLAG: versions.REQUIRE_IDENTITY_SERVER_FLAG,
  ERRCODE_STATUS: errors.ERRCODE_STATUS,
  errorMiddleware: errors.errorMiddleware,
  createApp: app.createApp,
  clientServerCors: cors.clientServerCors,
  CLIENT_SERVER_CORS_HEADERS: cors.CLIENT_SERVER_CORS_HEADERS,
  openDatabase: database.openDatabase,
  openSqliteDatabase: database.openSqliteDatabase,
  openPostgresDatabase: database.openPostgresDatabase,
  migrate: migrations.migrate,
  engineOf: engine.engineOf,
  cryptoRandom: sources.cryptoRandom,
  processMonotonicClock: sources.processMonotonicClock,
  systemClock: sources.systemClock,
  createLogger: logger.createLogger,
  silentLogger: logger.silentLogger,
  canonicaliseEmail: email.canonicaliseEmail,
  HomeserverUserAuthority: homeserver.HomeserverUserAuthority,
  parseThreepidAuth: uia.parseThreepidAuth,
  UiaRequired: uia.UiaRequired,
  THREEPID_STAGES: uia.THREEPID_STAGES,
  requireThreepidStage: uiaStage.requireThreepidStage,
  uiaChallengeBody: uiaStage.uiaChallengeBody,
};

describe('the package entry', () => {
  it('exports exactly the public values, each the one its module defines', () => {
    expect(Object.keys(api).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, value] of Object.entries(EXPECTED)) {
      expect(value).toBeDefined();
      expect({ name, value: (api as Record<string, unknown>)[name] }).toEqual({ name, value: expect.anything() });
      expect((api as Record<string, unknown>)[name]).toBe(value);
    }
  });

  it('gives a host working values through it', () => {
    expect(api.canonicaliseEmail('Alice@Example.ORG')).toBe('alice@example.org');
    expect(api.withThreepidVersions<api.VersionsBody>({ versions: ['v1.11'] }).unstable_features).toMatchObject({ [api.REQUIRE_IDENTITY_SERVER_FLAG]: false });
    expect(api.THREEPID_STAGES).toEqual({ 'm.login.email.identity': 'email', 'm.login.msisdn': 'msisdn' });
    const error = new api.ThreepidError('M_THREEPID_IN_USE', 'in use');
    expect(api.isThreepidError(error)).toBe(true);
    expect(api.isThreepidError(new Error('plain'))).toBe(false);
    expect(api.ERRCODE_STATUS.M_THREEPID_IN_USE).toBe(400);
    // The types refuse it too; a JavaScript host gets the ConfigError.
    // @ts-expect-error no_such_key is not a config key
    expect(() => api.parseConfig({ no_such_key: 1 })).toThrow(api.ConfigError);
  });
});
