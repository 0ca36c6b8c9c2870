/**
 * matrix-hs-threepid: homeserver-side verification of email addresses and
 * phone numbers (MSC2263). The only import a host homeserver needs.
 *
 * ```ts
 * import express from 'express';
 * import { createThreepidModule, parseConfig, withThreepidVersions } from 'matrix-hs-threepid';
 *
 * const config = parseConfig({ public_baseurl: 'https://matrix.example.org', email: { smtp_host: 'localhost' } });
 * const threepid = await createThreepidModule({ config, serveVersions: false, directory: myUserTable });
 * const app = express();
 * app.use(threepid.clientRouter);
 * app.get('/_matrix/client/versions', (_req, res) => res.json(withThreepidVersions({ versions: ['v1.11'] })));
 * // In the m.login.email.identity UIA stage:
 * const { medium, address } = await threepid.consume(creds.sid, creds.client_secret, 'register');
 * ```
 */
export { createThreepidModule, type ThreepidModule, type ThreepidModuleOptions } from './module';
export {
  parseConfig,
  loadConfigFile,
  ConfigError,
  type Config,
  type DatabaseSettings,
  type RateLimitSettings,
} from './config';
/** The config's input type, `RawConfig`, and its sections' (`RawEmailConfig`, …), each key documented. */
export type * from './config/raw-config';
export { ThreepidError, isThreepidError, type Errcode } from './threepid/errors';
export type { ThreepidDirectory } from './threepid/directory';
export type { ValidatedThreepid, IdentityCredentials } from './threepid/service';
export { IdentityServerError } from './identity/client';
export type { Flow, Medium } from './store/sessions';
export type { MailTransport } from './delivery/mail-transport';
export type { MailMessage } from './delivery/mail-message';
export { PermanentDeliveryError } from './delivery/errors';
export type { SmsTransport, SmsMessage } from './delivery/sms-senders';
export { withThreepidVersions, REQUIRE_IDENTITY_SERVER_FLAG } from './http/versions';
export { ERRCODE_STATUS, errorMiddleware } from './http/errors';
export { createApp } from './http/app';
export { clientServerCors, CLIENT_SERVER_CORS_HEADERS } from './http/cors';
export { openDatabase, openSqliteDatabase, openPostgresDatabase, type OpenDatabase } from './store/database';
export { migrate } from './store/migrations';
export { engineOf, type Engine, type HostKysely } from './store/engine';
export type {
  Database,
  ThreepidSessionsTable,
  OutboxTable,
  ThreepidBindingsTable,
  RateLimitsTable,
} from './store/schema';
export { cryptoRandom, processMonotonicClock, systemClock, type Clock, type MonotonicClock, type RandomSource } from './sources';
export type { BindingService } from './threepid/bindings';
export type { Metrics } from './observability/metrics';
export type { Channel } from './store/outbox';
export type { BindingRecord } from './store/bindings';
export type { ThreepidEvents } from './observability/events';
export type { DeliveryOutcome } from './delivery/outbox-worker';
export type { VersionsBody } from './http/versions';
export { createLogger, silentLogger, type Logger } from './logger';
export { canonicaliseEmail } from './threepid/email';
export type { UserAuthority } from './homeserver/client';
export { HomeserverUserAuthority } from './homeserver/client';
export { parseThreepidAuth, UiaRequired, THREEPID_STAGES, type ThreepidAuth } from './threepid/uia';
export {
  requireThreepidStage,
  uiaChallengeBody,
  type UiaChallenge,
  type ThreepidStageRequest,
  type ThreepidAuthChecker,
} from './threepid/uia-stage';
