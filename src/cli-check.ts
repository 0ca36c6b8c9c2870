import { looseEnds } from './policy/address-policy';
import { disposableDomains } from './policy/disposable-domains';
import { ConfigError, ignoredKeysNote, type Config } from './config';
import { Templates } from './delivery/templates';
import { checkTextsFitOneSegment } from './delivery/sms-fit';
import { synapseTemplateNotes } from './delivery/synapse-templates';
import { TLS_INSECURE_WARNING } from './delivery/mail-transport';
import { dkimAlignmentWarning } from './config/dkim';
import { keyReport } from './key-report';
import { TEMPLATE_FILES } from './module';
import { pendingMigrations } from './store/database';
import { tryPendingMigrations } from './store/migration-trial';

/**
 * `--check`: validates the config (every problem, each naming its key), the
 * templates it names, the database (reachable, which migrations are
 * pending) and the outbox keys (which older ones something stored still
 * needs), creating and starting nothing. Returns the exit code.
 */
export async function check(file: string | undefined, readConfig: (file: string | undefined) => Config): Promise<number> {
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

