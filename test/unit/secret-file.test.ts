import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config';
import { generateKeyLine } from '../../src/keyring';
import { loadOutboxKeyring } from '../../src/secret-file';
import { CapturingLogger, removeDir, tempDir } from '../support/harness';

describe('the outbox keys', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir('threepid-keys-')));
  afterEach(() => removeDir(dir));

  it('are generated on first start into outbox-keys beside the database, mode 0600, and read back after', () => {
    const config = parseConfig({ database: { path: path.join(dir, 'db', 'threepid.sqlite') } });
    const logger = new CapturingLogger();
    const first = loadOutboxKeyring(config, false, logger);
    const file = path.join(dir, 'db', 'outbox-keys');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(logger.lines.map((line) => line.fields)).toEqual([{ file }]);
    expect(logger.text()).not.toContain(readFileSync(file, 'utf8').split(':').pop()?.trim());
    const again = loadOutboxKeyring(config, false, new CapturingLogger());
    expect(again.current.id).toBe(first.current.id);
    expect(again.current.payloadKey.equals(first.current.payloadKey)).toBe(true);
  });

  it('come from key_file, the first line current, the others kept for reading', () => {
    const file = path.join(dir, 'keys');
    const [current, old] = [generateKeyLine(new Date(2026, 1, 1)), generateKeyLine(new Date(2025, 1, 1))];
    writeFileSync(file, `# rotated\n${current}\n\n${old}\n`);
    const keyring = loadOutboxKeyring(parseConfig({ outbox: { key_file: file } }), false, new CapturingLogger());
    expect(keyring.keys.map((key) => key.id)).toEqual([current.split(':')[0], old.split(':')[0]]);
  });

  it('stop the start, naming the key, when the key file is missing or wrong', () => {
    const missing = () => loadOutboxKeyring(parseConfig({ outbox: { key_file: path.join(dir, 'none') } }), false, new CapturingLogger());
    expect(missing).toThrow(ConfigError);
    expect(missing).toThrow(/outbox\.key_file: cannot read/);
    writeFileSync(path.join(dir, 'bad'), 'k1:notakey\n');
    expect(() => loadOutboxKeyring(parseConfig({ outbox: { key_file: path.join(dir, 'bad') } }), false, new CapturingLogger())).toThrow(
      /outbox\.key_file: entry 1: key "k1"/,
    );
  });

  it('live only in memory for a database that lives only in memory', () => {
    const keyring = loadOutboxKeyring(parseConfig({ database: { path: ':memory:' } }), true, new CapturingLogger());
    expect(keyring.current.id).toBe('ephemeral');
  });
});
