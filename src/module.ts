import type { Kysely } from 'kysely';
import { cryptoRandom, processMonotonicClock, systemClock, type Clock, type MonotonicClock, type RandomSource } from './sources';
import { EMAIL_TEMPLATE_FILES, EmailSender } from './delivery/email-sender';
import type { EmailPayload, SmsPayload } from './delivery/messages';
import { createSmsTransport, SMS_TEMPLATE_FILES, SmsSender } from './delivery/sms-senders';
import { checkTextsFitOneSegment } from './delivery/sms-fit';
import { OutboxWorker, type DeliveryOutcome } from './delivery/outbox-worker';
import { moduleMailTransport } from './delivery/module-mail';
import { brandingView } from './delivery/branding';
import { createPageRenderer } from './delivery/pages';
import { Templates } from './delivery/templates';
import { synapseTemplateNotes } from './delivery/synapse-templates';
import { createClientRouter } from './http/client-router';
import { PAGE_TEMPLATE_FILES } from './http/link-page';
import { servedAlsoUnder } from './http/path-prefix';
import { createAccountRouter } from './http/account-router';
import { createInternalRouter } from './http/internal-router';
import { createIdentityServiceRouter } from './http/identity-service-router';
import { HomeserverUserAuthority } from './homeserver/client';
import { AccountService } from './threepid/accounts';
import { StatelessUiaSessions } from './threepid/uia';
import { VersionsSource } from './http/versions';
import { silentLogger, type Logger } from './logger';
import { openDatabaseSharing } from './store/database';
import { BackgroundThread } from './background-thread';
import { engineOf } from './store/engine';
import { migrateToLatest, readinessCheck } from './store/migrations';
import { rewriteOldEmailDomains } from './store/email-domain-rewrite';
import { DatabaseRateLimiter, RateLimiter, type LimiterFactory } from './threepid/rate-limiter';
import { Metrics } from './observability/metrics';
import { outboxViewOf } from './observability/outbox-view';
import { checkModuleOptions, warnOfTextsWrittenToFiles } from './module-start-checks';
import { ignoredKeysNote } from './config/email';
import { createOpsRouter } from './http/ops-router';
import { countRefusals } from './observability/rate-limit-refusals';
import { startPurgeJob } from './purge';
import type { Database } from './store/schema';
import type { Channel } from './store/outbox';
import { Store } from './store/store';
import { BindingService } from './threepid/bindings';
import { IdentityServerClient } from './identity/client';
import { IdentityProxy } from './threepid/identity-proxy';
import { ThreepidService } from './threepid/service';
import { startAddressPolicy } from './policy/startup';
import { checkedHomeserverCalls } from './threepid/public-arguments';
import { IdCodec, SecretMacs } from './threepid/tokens';
import { loadOutboxKeyring } from './secret-file';
import { logOlderKeyUse, tokenLifetimesOf } from './key-report';
import { AesGcmSealer } from './store/sealing';
import type { OpenDatabase } from './store/database';
import type { ThreepidModule, ThreepidModuleOptions } from './module-api';

export type { ThreepidModule, ThreepidModuleOptions } from './module-api';

/** Every template the module renders, loaded at start (and by `--check`) so a broken setup fails early. */
export const TEMPLATE_FILES: readonly string[] = [
  ...EMAIL_TEMPLATE_FILES,
  ...SMS_TEMPLATE_FILES,
  ...PAGE_TEMPLATE_FILES,
];

/** Identity-server answers are small JSON objects; anything larger is refused. */
const IDENTITY_MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Builds the module: opens storage, starts the outbox worker, and returns
 * the routers and the homeserver API.
 *
 * ```ts
 * const module = await createThreepidModule({ config: parseConfig({ public_baseurl: 'https://matrix.example.org' }) });
 * app.use(module.clientRouter);
 * const proof = await module.consume(sid, clientSecret, 'register');
 * ```
 */
export async function createThreepidModule(options: ThreepidModuleOptions): Promise<ThreepidModule> {
  checkModuleOptions(options);
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const monotonicClock = options.monotonicClock ?? processMonotonicClock;
  const random = options.random ?? cryptoRandom;

  if (config.ignoredKeys.length > 0) {
    logger.info({ keys: config.ignoredKeys }, `config: ${ignoredKeysNote(config.ignoredKeys)}`);
  }
  for (const note of synapseTemplateNotes(config.templatesDir)) logger.info({ templates_dir: config.templatesDir }, `templates: ${note}`);
  warnOfTextsWrittenToFiles(config, logger, { warnProcess: options.logger === undefined });
  const templates = new Templates(config.templatesDir, config.email.defaultLanguage);
  // Only an operator's files can be broken at start: the shipped ones render in every language (a test holds it), and checking them again cost a third of the start.
  if (config.templatesDir) templates.preload(TEMPLATE_FILES);
  checkTextsFitOneSegment(templates, config);

  const ownsDatabase = options.database === undefined;
  // A host's database of an engine the module does not run on is refused before a key file is made for it.
  const hostEngine = options.database && (options.databaseEngine ?? engineOf(options.database));
  // The keys first: a bad key file stops the start before anything is opened.
  const inMemory = ownsDatabase && config.database.engine === 'sqlite' && config.database.path === ':memory:';
  const keyring = loadOutboxKeyring(config, inMemory, logger, { warnProcess: options.logger === undefined });
  // One worker thread for the SQLite file's checkpoints and for SMTP: one V8 heap, not two.
  const thread = BackgroundThread.create();
  let opened: OpenDatabase;
  if (options.database && hostEngine) {
    // Either kysely build's Kysely runs the module's queries alike.
    const db = options.database as Kysely<Database>;
    await migrateToLatest(db, hostEngine);
    opened = { db, engine: hostEngine };
  } else {
    opened = await openDatabaseSharing(config.database, logger, thread);
  }
  const store = new Store(opened.db, opened.engine, options.payloadSealer ?? new AesGcmSealer(keyring, (length) => cryptoRandom.bytes(length)));
  // Whatever fails from here on (a bad trusted_proxies list, the first
  // purge…) closes what was opened: the database, its checkpoint thread, the
  // mail transport.
  const undo: Array<() => unknown> = [];
  try {
    await rewriteOldEmailDomains(opened.db, opened.engine, logger);
    await logOlderKeyUse(opened.db, keyring, clock.now(), tokenLifetimesOf(config), logger);
    const ids = new IdCodec(keyring);
    return await assemble({ options, logger, clock, monotonicClock, random, templates, ownsDatabase, opened, store, ids, secrets: new SecretMacs(keyring), undo, thread });
  } catch (err) {
    for (const step of undo.reverse()) await step();
    if (ownsDatabase) await store.destroy().catch(() => undefined);
    throw err;
  }
}

/** The module over its open storage; `undo` collects what to close should a later step fail. */
async function assemble(parts: {
  options: ThreepidModuleOptions;
  logger: Logger;
  clock: Clock;
  monotonicClock: MonotonicClock;
  random: RandomSource;
  templates: Templates;
  ownsDatabase: boolean;
  opened: OpenDatabase;
  store: Store;
  ids: IdCodec;
  secrets: SecretMacs;
  undo: Array<() => unknown>;
  thread: BackgroundThread | undefined;
}): Promise<ThreepidModule> {
  const { options, logger, clock, monotonicClock, random, templates, ownsDatabase, opened, store, ids, secrets, undo, thread } = parts;
  const { config } = options;
  // Named in metrics and in the log line of a message given up on.
  const providers = {
    email: options.mailTransport ? 'custom' : config.email.smtp ? 'smtp' : 'file',
    sms: options.smsTransport ? 'custom' : config.sms.sender,
  };
  const metrics = new Metrics(store, clock, options.processMetrics ?? true, providers, config.sms.enabled ? config.sms.dailyLimit : undefined);
  // Replicas sharing PostgreSQL must share their rate-limit counts too.
  const makeLimiter: LimiterFactory =
    opened.engine === 'postgres'
      ? (namespace, limit) => new DatabaseRateLimiter(store.rateLimits, namespace, limit, clock)
      : (_namespace, limit) => new RateLimiter(limit, monotonicClock);
  const limiterFactory: LimiterFactory = (namespace, limit) => countRefusals(makeLimiter(namespace, limit), namespace, (rule) => metrics.rateLimited(rule));

  const transport = options.mailTransport ?? moduleMailTransport(config, logger, thread);
  undo.push(() => transport.close());
  const emailSender = new EmailSender(config, brandingView(config, 'email'), templates, transport);
  const smsSender = new SmsSender(config, templates, options.smsTransport ?? createSmsTransport(config.sms, logger, clock));

  const deliveryCounts: Record<DeliveryOutcome, number> = { sent: 0, retried: 0, failed: 0 };
  const worker = new OutboxWorker({
    store,
    clock,
    random,
    logger,
    maxAttempts: { email: config.email.maxAttempts, sms: config.sms.maxAttempts },
    leaseMs: config.outbox.leaseMs,
    sendTimeoutMs: config.outbox.sendTimeoutMs,
    concurrency: config.outbox.concurrency,
    providers,
    senders: {
      // The Message-ID is the message's opaque outside id: it says nothing of when it was made.
      email: (payload, id, signal) => emailSender.send(payload as EmailPayload, ids.external(id), signal),
      sms: (payload, _id, signal) => smsSender.send(payload as SmsPayload, signal),
    },
    onOutcome: (outcome: DeliveryOutcome, channel: Channel) => {
      deliveryCounts[outcome] += 1;
      metrics.delivery(outcome, channel);
    },
    onLeaseLost: (what, channel) => metrics.leaseLost(what, channel),
  });

  const bindings = new BindingService(store, clock);
  const identitySettings = config.identityServer;
  if (identitySettings.proxy && identitySettings.allowHttp) {
    logger.warn({}, 'identity_server.allow_http is on: identity servers are called over plain HTTP. Tests and development only!');
  }
  const identityProxy = identitySettings.proxy
    ? new IdentityProxy(
        identitySettings,
        new IdentityServerClient({
          allowHttp: identitySettings.allowHttp,
          ipRangeWhitelist: identitySettings.ipRangeWhitelist,
          timeoutMs: identitySettings.timeoutMs,
          maxResponseBytes: IDENTITY_MAX_RESPONSE_BYTES,
        }),
        store,
        clock,
      )
    : undefined;
  const service = new ThreepidService({
    config,
    store,
    clock,
    random,
    ids,
    secrets,
    directory: options.directory ?? bindings,
    onEnqueued: () => worker.wake(),
    identityProxy,
    limiterFactory,
    events: metrics,
    addressPolicy: startAddressPolicy(config.policy, logger),
  });

  const pages = createPageRenderer(templates, config);
  const clientRouter = servedAlsoUnder(
    config.publicBasePath,
    createClientRouter({
      config,
      service,
      pages,
      logger,
      versions: options.serveVersions === false ? undefined : new VersionsSource(config.homeserver.baseUrl, logger),
    }),
  );
  const authority =
    options.userAuthority ??
    (config.homeserver.baseUrl
      ? new HomeserverUserAuthority(config.homeserver.baseUrl, clock, {
          forwardClientIp: config.homeserver.forwardClientIp,
          monotonicClock,
        })
      : undefined);
  const accountRouter = authority
    ? servedAlsoUnder(config.publicBasePath, createAccountRouter(
        new AccountService({
          store,
          service,
          authority,
          clock,
          requirePassword: config.accounts.requirePassword,
          threepidChanges: config.policy.enable3pidChanges,
          passwordChecks: {
            perUser: limiterFactory('rc_password_check_per_user', config.passwordCheckLimits.perUser),
            perIp: limiterFactory('rc_password_check_per_ip', config.passwordCheckLimits.perIp),
          },
          uiaSessions: new StatelessUiaSessions(config.homeserver.sharedSecret ?? random.bytes(32).toString('base64'), clock, random),
        }),
        logger,
        config.trustedProxies,
      ))
    : undefined;
  const internalRouter = config.homeserver.sharedSecret
    ? createInternalRouter(service, bindings, {
        sharedSecret: config.homeserver.sharedSecret,
        audience: config.homeserver.jwtAudience,
        maxLifetimeMs: config.homeserver.jwtMaxLifetimeMs,
      }, logger, outboxViewOf(store, clock))
    : undefined;

  const identityServiceRouter = config.identityServiceApi.enabled
    ? createIdentityServiceRouter({ config, service, pages, logger })
    : undefined;

  const sealed = await store.outbox.sealClearPayloads();
  if (sealed > 0) logger.info({ messages: sealed }, 'sealed outbox payloads written in clear before sealing existed');
  const purgeJob = await startPurgeJob({ purgeExpiredSessions: () => service.purgeExpiredSessions(), store, clock, logger });
  undo.push(() => purgeJob.stop());
  worker.start();

  return {
    clientRouter,
    internalRouter,
    identityServiceRouter,
    accountRouter,
    opsRouter: createOpsRouter(readinessCheck(store.db, store.engine), metrics, logger, () => opened.health?.problem()),
    metrics,
    // A host's code calls these: each argument is checked, a bad one is M_INVALID_PARAM by name.
    ...checkedHomeserverCalls(service),
    bindings,
    deliveryCounts,
    flushOutbox: () => worker.flush(),
    async close() {
      purgeJob.stop();
      await worker.stop();
      transport.close();
      if (ownsDatabase) await store.destroy();
    },
  };
}
