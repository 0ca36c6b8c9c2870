#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { parseCliArgs, USAGE } from './cli-args';
import { looseEnds } from './policy/address-policy';
import { disposableDomains } from './policy/disposable-domains';
import { ConfigError, ignoredKeysNote, loadConfigFile, parseConfig, type Config } from './config';
import { Templates } from './delivery/templates';
import { checkTextsFitOneSegment } from './delivery/sms-fit';
import { synapseTemplateNotes } from './delivery/synapse-templates';
import { TLS_INSECURE_WARNING } from './delivery/mail-transport';
import { dkimAlignmentWarning } from './config/dkim';
import { readOrCreateSecretFile, secretFilePath } from './secret-file';
import { createApp } from './http/app';
import { createListener } from './http/listener';
import { clientServerCors } from './http/cors';
import { createLogger, type Logger } from './logger';
import { keyReport } from './key-report';
import { createThreepidModule, TEMPLATE_FILES } from './module';
import { runSendTest } from './send-test';
import { pendingMigrations } from './store/database';
import { tryPendingMigrations } from './store/migration-trial';

function readConfig(file: string | undefined): Config {
  return file ? loadConfigFile(file, process.env) : parseConfig({}, process.env);
}

function version(): string {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * `--check`: validates the config (every problem, each naming its key), the
 * templates it names, the database (reachable, which migrations are
 * pending) and the outbox keys (which older ones something stored still
 * needs), creating and starting nothing. Returns the exit code.
 */
async function check(file: string | undefined): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const problem = (line: string) => process.stderr.write(`${line}\n`);
  let config: Config;
  try {
    config = readConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problem(err.message);
    return 1;
  }
  out(`config: ${file ?? '(none: the built-in defaults)'} is valid`);
  const { dkim, smtp } = config.email;
  if (dkim) out(`email: DKIM: ${dkim.algorithm} key for ${dkim.selector}._domainkey.${dkim.domain}`);
  if (smtp?.tlsInsecure) out(`email: warning: ${TLS_INSECURE_WARNING}`);
  const unaligned = dkimAlignmentWarning(dkim, config.email.notifFrom);
  if (unaligned) out(`email: warning: ${unaligned}`);
  if (config.ignoredKeys.length > 0) out(`config: ${ignoredKeysNote(config.ignoredKeys)}`);
  for (const loose of looseEnds(config.policy.allowedLocal3pids)) {
    const admits = loose.example === undefined ? '' : `, e.g. ${loose.example}`;
    out(`config: warning: ${loose.key} (${loose.pattern}) does not end in $; it is applied with re.match, as Synapse does, so it also admits addresses that go on past it${admits}`);
  }
  if (config.policy.email.disposableDomains.enabled) {
    const list = disposableDomains();
    out(`address policy: disposable domains from ${list.source} ${list.version} (published ${list.publishedOn ?? 'on an unrecorded date'}), ${list.size} domains`);
  }
  let failed = false;
  try {
    const templates = new Templates(config.templatesDir, config.email.defaultLanguage);
    templates.preload(TEMPLATE_FILES);
    checkTextsFitOneSegment(templates, config);
    out(`templates: ${config.templatesDir ? `${config.templatesDir}, then the shipped ones` : 'the shipped ones'}`);
    for (const note of synapseTemplateNotes(config.templatesDir)) out(`templates: ${note}`);
  } catch (err) {
    problem(`templates: ${(err as Error).message}`);
    failed = true;
  }
  const where = config.database.engine === 'sqlite' ? config.database.path : 'postgres';
  let readKeys = false;
  try {
    const status = await pendingMigrations(config.database);
    if (!status.exists) out(`database: ${where} does not exist yet; it is created at start`);
    out(
      status.pending.length === 0
        ? `database: ${where}: no migration pending`
        : `database: ${where}: ${status.pending.length} migration(s) pending, applied at start: ${status.pending.join(', ')}`,
    );
    if (status.exists && status.pending.length > 0) {
      await tryPendingMigrations(config.database);
      if (config.database.engine === 'sqlite') out(`database: ${where}: the pending migrations apply (tried on a copy in memory)`);
    }
    // Which keys stored rows still need: read only off a database at the current schema.
    readKeys = status.exists && status.pending.length === 0;
  } catch (err) {
    problem(`database: ${where}: ${(err as Error).message}`);
    failed = true;
  }
  try {
    if (readKeys) for (const line of await keyReport(config, Date.now())) out(line);
  } catch (err) {
    problem(err instanceof ConfigError ? err.message : `keys: ${(err as Error).message}`);
    failed = true;
  }
  return failed ? 1 : 0;
}

/**
 * With no `homeserver.shared_secret`, the sidecar makes one and keeps it in a
 * file beside the database (mode 0600), so the internal API is never open and
 * the secret survives restarts. The log names the file, not the secret.
 */
function withSharedSecret(config: Config, logger: Logger): Config {
  if (config.homeserver.sharedSecret) return config;
  const sharedSecret = readOrCreateSecretFile(
    secretFilePath(config.database.path, 'internal-api-secret'),
    () => randomBytes(32).toString('base64url'),
    (file) => logger.warn({ file }, 'no homeserver.shared_secret configured: generated one for the internal API'),
  ).trim();
  return Object.freeze({ ...config, homeserver: Object.freeze({ ...config.homeserver, sharedSecret }) });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

async function main(): Promise<void> {
  const command = parseCliArgs(process.argv.slice(2), process.env);
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${version()}\n`);
      return;
    case 'usage-error':
      process.stderr.write(`matrix-hs-threepid: ${command.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    case 'check':
      process.exitCode = await check(command.configFile);
      return;
    case 'send-test':
      return exitOnceWritten(await runSendTest(readConfig(command.configFile), command));
    case 'run':
      return run(command.configFile);
  }
}

/**
 * Ends the process once what it wrote has gone out. A send test is over when
 * its result is printed, but what it drove may leave timers behind (nodemailer
 * arms a 10 s greeting timer it never clears once its socket is cut off,
 * fetch keeps its connections open a few seconds), which would hold the
 * process up long after.
 */
function exitOnceWritten(code: number): Promise<void> {
  const written = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  return Promise.all([written(process.stdout), written(process.stderr)]).then(() => process.exit(code));
}

/**
 * Until the listeners are up, an exit is a failed start: should the event
 * loop run dry first (a thread that keeps nothing alive, say), the process
 * says so and exits 1, never a silent 0 that `Restart=on-failure` ignores.
 */
function exitNonZeroUntilStarted(): () => void {
  const ranDry = () => {
    process.stderr.write('matrix-hs-threepid: the start did not finish\n');
    process.exitCode = 1;
  };
  process.once('beforeExit', ranDry);
  return () => process.off('beforeExit', ranDry);
}

async function run(file: string | undefined): Promise<void> {
  const started = exitNonZeroUntilStarted();
  const logger = createLogger();
  // SIGHUP's default action ends the process (status 129, the request in
  // flight dropped), which systemd counts as a clean stop and never
  // restarts. There is nothing to reopen (the log is stdout, the templates
  // are read once at start), so it is logged and otherwise ignored.
  process.on('SIGHUP', () => logger.info({ signal: 'SIGHUP' }, 'SIGHUP ignored: nothing to reopen; restart to read changed templates'));
  const config = withSharedSecret(readConfig(file), logger);
  // With email disabled nothing is sent, so there is no development fallback to warn of.
  if (config.email.enabled && !config.email.smtp) {
    logger.warn({ dir: path.resolve(config.email.devMailDir) }, 'no SMTP configured: emails are written to files (development only)');
  }

  const module = await createThreepidModule({ config, logger });
  const servers: Server[] = [
    createListener(
      createApp([clientServerCors, module.clientRouter, module.accountRouter], logger, module.metrics),
      config.listeners.client,
      { trustedProxies: config.trustedProxies, logger },
    ),
    createListener(
      createApp([module.internalRouter, module.identityServiceRouter, module.opsRouter], logger, module.metrics),
      config.listeners.internal,
      { logger },
    ),
  ];
  await listen(servers[0], config.listeners.client.host, config.listeners.client.port);
  logger.info({ ...config.listeners.client, public_baseurl: config.publicBaseurl }, 'client listener ready');
  await listen(servers[1], config.listeners.internal.host, config.listeners.internal.port);
  logger.info(
    {
      ...config.listeners.internal,
      serves: `internal API,${module.identityServiceRouter ? ' identity-service v1 API,' : ''} /health, /ready, /metrics`,
    },
    'internal listener ready',
  );
  started();

  // SIGTERM: stop accepting, let requests in flight finish, leave unsent
  // mail in the outbox for the next start, close the database.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await Promise.all(servers.map(close));
    await module.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
