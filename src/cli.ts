#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { ConfigError, loadConfigFile, parseConfig, type Config } from './config';
import { readOrCreateSecretFile, secretFilePath } from './secret-file';
import { createApp } from './http/app';
import { createLogger, type Logger } from './logger';
import { createThreepidModule } from './module';

function configPath(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const flag = argv.indexOf('--config');
  if (flag !== -1) {
    const file = argv[flag + 1];
    if (!file) throw new ConfigError('', '--config needs a file name');
    return file;
  }
  return env.MATRIX_HS_THREEPID_CONFIG || undefined;
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
  const logger = createLogger();
  const file = configPath(process.argv, process.env);
  let config = file ? loadConfigFile(file, process.env) : parseConfig({}, process.env);
  config = withSharedSecret(config, logger);
  if (!config.email.smtp) {
    logger.warn({ dir: path.resolve(config.email.devMailDir) }, 'no SMTP configured: emails are written to files (development only)');
  }

  const module = await createThreepidModule({ config, logger });
  const servers: Server[] = [
    createServer(createApp([module.clientRouter, module.accountRouter], logger, module.metrics)),
    createServer(createApp([module.internalRouter, module.opsRouter], logger, module.metrics)),
  ];
  await listen(servers[0], config.listeners.client.host, config.listeners.client.port);
  logger.info({ ...config.listeners.client, public_baseurl: config.publicBaseurl }, 'client listener ready');
  await listen(servers[1], config.listeners.internal.host, config.listeners.internal.port);
  logger.info({ ...config.listeners.internal, serves: 'internal API, /health, /ready, /metrics' }, 'internal listener ready');

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
