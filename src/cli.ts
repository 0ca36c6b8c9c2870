#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { parseCliArgs, USAGE } from './cli-args';
import { ConfigError, loadConfigFile, parseConfig, type Config } from './config';
import { readOrCreateSecretFile, secretFilePath } from './secret-file';
import { createApp } from './http/app';
import { createListener } from './http/listener';
import { clientServerCors } from './http/cors';
import { createLogger, type Logger } from './logger';
import { createThreepidModule } from './module';

// `--check` and `--send-test` are loaded when asked for: a start (and its
// first answered request) does not wait for their code.

function readConfig(file: string | undefined): Config {
  return file ? loadConfigFile(file, process.env) : parseConfig({}, process.env);
}

function version(): string {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as { version: string };
  return manifest.version;
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
      process.exitCode = await (await import('./cli-check')).check(command.configFile, readConfig);
      return;
    case 'send-test':
      return exitOnceWritten(await (await import('./send-test')).runSendTest(readConfig(command.configFile), command));
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
