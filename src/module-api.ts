import type { Router } from 'express';
import type { Clock, MonotonicClock, RandomSource } from './sources';
import type { Config } from './config';
import type { MailTransport } from './delivery/mail-transport';
import type { DeliveryOutcome } from './delivery/outbox-worker';
import type { SmsTransport } from './delivery/sms-senders';
import type { UserAuthority } from './homeserver/client';
import type { Logger } from './logger';
import type { Flow, IdentityCredentials } from './model';
import type { Metrics } from './observability/metrics';
import type { Engine, HostKysely } from './store/engine';
import type { PayloadSealer } from './store/sealing';
import type { BindingService } from './threepid/bindings';
import type { ThreepidDirectory } from './threepid/directory';
import type { ValidatedThreepid } from './threepid/service';

/**
 * What the module is to its host: the options it is built with, and the
 * routers and calls it gives back (built by `createThreepidModule`).
 */

/** Everything a host may supply; only `config` is required. */
export interface ThreepidModuleOptions {
  readonly config: Config;
  /**
   * Who owns which 3PID, for the flow checks. Default: the module's own
   * binding table (what the sidecar's internal API fills).
   */
  readonly directory?: ThreepidDirectory;
  /** Default: SMTP from the config, or the development file transport. */
  readonly mailTransport?: MailTransport;
  /** Default: the sender named by `sms.sender`. */
  readonly smsTransport?: SmsTransport;
  /**
   * Default: the database `config.database` names (a SQLite file, or
   * PostgreSQL). A host's own Kysely, on SQLite or PostgreSQL and from
   * either kysely build (`import` or `require`), is migrated here (the
   * module's tables beside the host's), and is not closed by `close()`.
   */
  readonly database?: HostKysely;
  /**
   * The engine behind `database` when one is given. Default: found from its
   * dialect's adapter; a dialect that is neither SQLite's nor PostgreSQL's
   * is refused (`M_INVALID_PARAM`) unless this names the engine.
   */
  readonly databaseEngine?: Engine;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** What durations inside the process (in-memory rate limits, the whoami cache) are measured by. */
  readonly monotonicClock?: MonotonicClock;
  readonly random?: RandomSource;
  /**
   * Who owns an access token and whether a password is right, for the
   * account endpoints. Default: the homeserver at `homeserver.base_url`
   * (whoami, login); without either, the account endpoints are not served.
   */
  readonly userAuthority?: UserAuthority;
  /** Default true: Node.js process metrics (memory, event loop) in the module's registry. */
  readonly processMetrics?: boolean;
  /** Default true: the module answers `GET /_matrix/client/versions` on its client router. */
  readonly serveVersions?: boolean;
  /**
   * How outbox payloads are sealed at rest. Default: AES-256-GCM with the
   * keys of `outbox.keys` / `outbox.key_file`, or of the `outbox-keys` file
   * generated beside the database. Meant for tests (one proves that a
   * database written without sealing gives its tokens away).
   */
  readonly payloadSealer?: PayloadSealer;
}

/** The module, built: routers for the host to mount and the homeserver's API. */
export interface ThreepidModule {
  /** Public routes: requestToken ×6 (r0 and v3), submit_url, the email link page, `/versions`. */
  readonly clientRouter: Router;
  /** The sidecar's internal API (JWT-authenticated); undefined without `homeserver.shared_secret`. */
  readonly internalRouter: Router | undefined;
  /**
   * The identity-service v1 validation API (`/_matrix/identity/api/v1/...`)
   * for homeservers that delegate validation (Synapse, Dendrite): for the
   * internal listener only. Undefined when `identity_service_api.enabled` is off.
   */
  readonly identityServiceRouter: Router | undefined;
  /**
   * `GET /account/3pid`, `POST /account/3pid/{add,delete,unbind}` over the
   * module's 3PID directory; undefined without a user authority.
   */
  readonly accountRouter: Router | undefined;
  /**
   * The UIA stages `m.login.email.identity` / `m.login.msisdn`: the 3PID an
   * auth dict proves (accepting `threepid_creds` and the legacy
   * `threepidCreds`), spent for `flow` when `consume` is true.
   *
   * ```ts
   * const { medium, address } = await threepid.checkThreepidAuth(req.body.auth, 'password', true);
   * ```
   */
  checkThreepidAuth(auth: unknown, flow: Flow, consume: boolean): Promise<ValidatedThreepid>;
  /** What a validated session proves, without spending it. */
  getValidated(sid: string, clientSecret: string, creds?: IdentityCredentials): Promise<ValidatedThreepid>;
  /**
   * Spends a validated session, once, for the flow it was requested for.
   * For a session an identity server runs, pass the client's `id_server` and
   * `id_access_token` (from `threepid_creds`): the identity server is asked,
   * and its errors (`M_TERMS_NOT_SIGNED`…) come back as `IdentityServerError`.
   */
  consume(sid: string, clientSecret: string, flow: Flow, creds?: IdentityCredentials): Promise<ValidatedThreepid>;
  /** The module's own 3PID directory. */
  readonly bindings: BindingService;
  /** `/health`, `/ready`, `/metrics`: for the internal listener. */
  readonly opsRouter: Router;
  /** The module's Prometheus registry and counters. */
  readonly metrics: Metrics;
  /** Delivery counters since start. */
  readonly deliveryCounts: Readonly<Record<DeliveryOutcome, number>>;
  /** Retries every pending message now, ignoring backoff (e.g. after an SMTP outage is known to be over). */
  flushOutbox(): void;
  /** Stops the worker and timers, closes the transport and (if it opened it) the database. */
  close(): Promise<void>;
}
