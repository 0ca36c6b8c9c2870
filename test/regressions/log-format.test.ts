/**
 * The sidecar wrote JSON lines even to a person at a terminal. `LOG_FORMAT`
 * chooses: `pretty` (one readable line a record) or `json`; without it,
 * pretty when stdout is a terminal, JSON otherwise (a pipe, journald, a
 * container's log collector).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { USAGE } from '../../src/cli-args';
import { chooseLogFormat } from '../../src/logger';
import { prettyLine } from '../../src/log-format';
import { removeDir, tempDir } from '../support/harness';
import { startSidecarProcess } from '../support/sidecar-process';

describe('LOG_FORMAT', () => {
  it('defaults to pretty at a terminal and JSON elsewhere; a value it names wins', () => {
    expect(chooseLogFormat(undefined, true)).toBe('pretty');
    expect(chooseLogFormat(undefined, false)).toBe('json');
    expect(chooseLogFormat('json', true)).toBe('json');
    expect(chooseLogFormat('pretty', false)).toBe('pretty');
  });

  it('is documented with LOG_LEVEL in --help and the sample configuration', () => {
    const sample = readFileSync(path.resolve(__dirname, '../../config.sample.yaml'), 'utf8');
    for (const text of [USAGE, sample]) {
      expect(text).toContain('LOG_LEVEL');
      expect(text).toContain('LOG_FORMAT');
    }
  });

  it('pretty: time, level, message, then the fields as key=value', () => {
    const json = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 1, name: 'matrix-hs-threepid', id: 7, reason: 'SMS gateway not reached', msg: 'delivery failed; will retry' });
    expect(prettyLine(json)).toBe('2026-01-02T03:04:05.006Z WARN  delivery failed; will retry id=7 reason="SMS gateway not reached"\n');
  });

  async function sidecarOutput(format: string | undefined): Promise<string> {
    const dir = tempDir();
    const saved = process.env.LOG_FORMAT;
    if (format === undefined) delete process.env.LOG_FORMAT;
    else process.env.LOG_FORMAT = format;
    try {
      const sidecar = await startSidecarProcess(dir, {});
      await sidecar.stop();
      return sidecar.output();
    } finally {
      if (saved === undefined) delete process.env.LOG_FORMAT;
      else process.env.LOG_FORMAT = saved;
      removeDir(dir);
    }
  }

  it('the sidecar writes readable lines with LOG_FORMAT=pretty', async () => {
    const output = await sidecarOutput('pretty');
    expect(output).toMatch(/^\S+Z INFO  client listener ready host=127\.0\.0\.1 port=\d+/m);
    expect(output).not.toMatch(/^\{/m);
  });

  it('the sidecar writes JSON lines to a pipe by default', async () => {
    const output = await sidecarOutput(undefined);
    const ready = output.split('\n').find((line) => line.includes('client listener ready'));
    expect(JSON.parse(ready!)).toMatchObject({ level: 30, msg: 'client listener ready' });
  });
});
