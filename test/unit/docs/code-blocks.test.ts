/**
 * Every fenced code block of the README and docs/ is run, type-checked or
 * compared with what the tests run, as its check comment says; a block
 * without one fails here. Kinds checked elsewhere name the test that does.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { parse as parseYaml } from 'yaml';
import { parseCliArgs, USAGE } from '../../../src/cli-args';
import { parseConfig } from '../../../src/config';
import { allBlocks, blocksChecked, ROOT, where, type DocBlock } from '../../support/doc-blocks';
import { removeDir, tempDir } from '../../support/harness';
import { HOMESERVER_CONFIG_KEYS, unknownKeys } from '../../support/homeserver-config-keys';
import { Templates } from '../../../src/delivery/templates';

/** Kinds this file checks, and those another test file runs (named, so a reader finds it). */
const CHECKED_HERE = ['text', 'usage', 'commands', 'sidecar-config', 'homeserver-config', 'file', 'ts', 'test-command', 'override-catalog'];
const CHECKED_ELSEWHERE: Record<string, string> = {
  'quick-start': 'test/e2e/readme-quick-start.test.ts',
  'quick-start-try': 'test/e2e/readme-quick-start.test.ts',
  'guide-file': 'test/package/npm-package.test.ts',
  'guide-file-commonjs': 'test/package/npm-package.test.ts',
  'guide-install': 'test/package/npm-package.test.ts',
  'guide-run': 'test/package/npm-package.test.ts',
};

const cases = (kind: string) => blocksChecked(kind).map((block) => [where(block), block] as const);

it('every code block says how it is checked, with a kind that is checked', () => {
  const known = new Set([...CHECKED_HERE, ...Object.keys(CHECKED_ELSEWHERE)]);
  const blocks = allBlocks();
  expect(blocks.length).toBeGreaterThan(15);
  expect(blocks.filter((block) => !block.check || !known.has(block.check)).map((block) => `${where(block)} (${block.check ?? 'no check'})`)).toEqual([]);
  for (const file of new Set(Object.values(CHECKED_ELSEWHERE))) expect(readFileSync(path.join(ROOT, file), 'utf8')).toContain('doc-blocks');
});

it.each(cases('text'))('%s is a picture or a listing, not code', (_at, block) => {
  expect(block.lang).toBe('');
});

it.each(cases('usage'))('%s is the usage --help prints', (_at, block) => {
  const usage = USAGE.split('\n\n')[0]
    .split('\n')
    .map((line) => line.replace(/^(Usage:)?\s+/, '').replace(/^Usage: /, ''));
  expect(block.text.trimEnd().split('\n')).toEqual(usage);
});

/** A shell line split into words as sh would for these plain lines (no quotes, no expansions). */
const words = (line: string) => line.trim().split(/\s+/);

it.each(cases('commands'))('%s: every command is one the CLI or npm takes', (_at, block) => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
  const lines = block.text.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#'));
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const [command, ...args] = words(line.replace(/\s+#.*$/, ''));
    if (command === 'npm') {
      expect(args[0]).toBe('install');
      expect(args).toContain(manifest.name);
    } else {
      expect(Object.keys(manifest.bin)).toContain(path.basename(command));
      const parsed = parseCliArgs(args, {});
      expect(parsed).not.toMatchObject({ kind: 'usage-error' });
    }
  }
});

/** Secrets a block's configuration may need, as an operator sets them: in the environment. */
const SECRETS_IN_ENVIRONMENT = {
  MATRIX_HS_THREEPID_SHARED_SECRET: 'x'.repeat(32),
  MATRIX_HS_THREEPID_SMTP_PASS: 'smtp-password',
  MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN: 'twilio-token',
  MATRIX_HS_THREEPID_SNS_SECRET_ACCESS_KEY: 'sns-secret',
  MATRIX_HS_THREEPID_VONAGE_API_SECRET: 'vonage-secret',
};

it.each(cases('sidecar-config'))('%s is a configuration the sidecar takes, its secrets in the environment', (_at, block) => {
  expect(() => parseConfig(parseYaml(block.text), SECRETS_IN_ENVIRONMENT)).not.toThrow();
});

// The two checks below look at the page only where a block sets up Twilio or
// the homeserver: at least one block must, or they check nothing.
it('some sidecar configuration block sets up Twilio, and some the homeserver', () => {
  const blocks = blocksChecked('sidecar-config').map((block) => (parseYaml(block.text) ?? {}) as { sms?: { twilio?: unknown }; homeserver?: object });
  expect(blocks.filter((raw) => raw.sms?.twilio).length).toBeGreaterThan(0);
  expect(blocks.filter((raw) => Object.keys(raw.homeserver ?? {}).length > 0).length).toBeGreaterThan(0);
});

// A placeholder where a secret goes passes --check and is then sent to the
// provider (or, for the shared secret, used): secrets come from the environment.
it.each(cases('sidecar-config'))('%s writes no secret of its own', (_at, block) => {
  const raw = parseYaml(block.text) as Record<string, Record<string, unknown> | undefined> | null;
  const sms = raw?.sms as Record<string, Record<string, unknown> | undefined> | undefined;
  const written = [
    raw?.email?.smtp_pass && 'email.smtp_pass',
    sms?.twilio?.auth_token && 'sms.twilio.auth_token',
    sms?.sns?.secret_access_key && 'sms.sns.secret_access_key',
    sms?.vonage?.api_secret && 'sms.vonage.api_secret',
  ].filter(Boolean);
  expect(written).toEqual([]);
  // The page says where the secret comes from instead.
  if (sms?.twilio) expect(readFileSync(path.join(ROOT, block.file), 'utf8')).toContain('MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN');
});

// A placeholder written where the secret goes ("at least 32 random characters")
// is itself 32 characters and passes --check: an operator who copies it runs
// with a secret everyone can read. The secret comes from the environment.
it.each(cases('sidecar-config'))('%s writes no homeserver.shared_secret, which comes from the environment', (_at, block) => {
  const homeserver = (parseYaml(block.text) as { homeserver?: Record<string, unknown> } | null)?.homeserver ?? {};
  expect(Object.keys(homeserver)).not.toContain('shared_secret');
  const secret = 'x'.repeat(32);
  expect(parseConfig(parseYaml(block.text), { ...SECRETS_IN_ENVIRONMENT, MATRIX_HS_THREEPID_SHARED_SECRET: secret }).homeserver.sharedSecret).toBe(secret);
  // Where the block sets up the homeserver's side, its page says where the secret comes from.
  if (Object.keys(homeserver).length > 0) expect(readFileSync(path.join(ROOT, block.file), 'utf8')).toContain('MATRIX_HS_THREEPID_SHARED_SECRET');
});

it.each(cases('homeserver-config'))("%s is YAML of the homeserver's own, every key one it reads", (_at, block) => {
  expect(['synapse', 'dendrite']).toContain(block.argument);
  const yaml = parseYaml(block.text);
  expect(yaml).toEqual(expect.any(Object));
  expect(unknownKeys(yaml, HOMESERVER_CONFIG_KEYS[block.argument as 'synapse' | 'dendrite'])).toEqual([]);
});

it.each<[string, string, string[]]>([
  ['synapse', 'account_threepid_delegate:\n  msisdn: http://127.0.0.1:8091\n', ['account_threepid_delegate']],
  ['synapse', 'account_threepid_delegates:\n  email: http://127.0.0.1:8091\n', ['account_threepid_delegates.email']],
  ['synapse', 'registration_requires_3pid: [msisdn]\n', ['registration_requires_3pid']],
  ['dendrite', 'global:\n  trusted_third_party_id_server: [a.example.org]\n', ['global.trusted_third_party_id_server']],
  ['dendrite', 'trusted_third_party_id_servers: [a.example.org]\n', ['trusted_third_party_id_servers']],
])('a %s block with a key it does not read fails: %j', (homeserver, text, unknown) => {
  expect(unknownKeys(parseYaml(text), HOMESERVER_CONFIG_KEYS[homeserver as 'synapse' | 'dendrite'])).toEqual(unknown);
});

it.each(cases('file'))('%s is the file the tests run, quoted in full', (_at, block) => {
  expect(block.text).toBe(readFileSync(path.join(ROOT, block.argument!), 'utf8'));
});

it.each(cases('override-catalog'))("%s is an operator's catalog the module takes, each string replacing the shipped one", (_at, block) => {
  expect(block.lang).toBe('json');
  const messages = JSON.parse(block.text) as Record<string, string>;
  const dir = tempDir('threepid-doc-catalog-');
  try {
    mkdirSync(path.join(dir, 'messages'));
    writeFileSync(path.join(dir, 'messages', `${block.argument}.json`), block.text);
    const templates = new Templates(dir);
    expect(templates.languages).toContain(block.argument);
    for (const [key, message] of Object.entries(messages)) {
      expect(templates.catalogs.format(block.argument!, key, { app_name: 'Matrix' }, 'text')).toBe(message.replace('{app_name}', 'Matrix'));
    }
  } finally {
    removeDir(dir);
  }
});

it.each(cases('test-command'))("%s is the command CI runs", (_at, block) => {
  expect(block.text).toBe('npm ci && npm test\n');
  const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8').split('\n');
  expect(ci.indexOf('npm ci')).toBeGreaterThan(-1);
  expect(ci.indexOf('npm test')).toBeGreaterThan(ci.indexOf('npm ci'));
});

describe('the TypeScript blocks', () => {
  const blocks: DocBlock[] = blocksChecked('ts');
  const dir = path.join(ROOT, 'test-output', `doc-blocks-${process.pid}`);
  afterAll(() => removeDir(dir));

  it('are there', () => expect(blocks.length).toBeGreaterThan(0));

  it('type-check, strict, each as an ES module importing the package by name', () => {
    mkdirSync(dir, { recursive: true });
    const files = blocks.map((block, index) => {
      const file = path.join(dir, `block-${index}.mts`);
      writeFileSync(file, block.text);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      esModuleInterop: true,
      skipLibCheck: true,
      types: ['node'],
      paths: { 'matrix-hs-threepid': [path.join(ROOT, 'src/index.ts')] },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const index = diagnostic.file ? files.indexOf(diagnostic.file.fileName) : -1;
      const at = index >= 0 ? where(blocks[index]) : (diagnostic.file?.fileName ?? '');
      const line = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 : 0;
      return `${at} (+${line}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  }, 120_000);
});
