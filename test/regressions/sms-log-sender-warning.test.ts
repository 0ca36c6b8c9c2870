// Regression: SMS is on by default with the `log` sender, which writes each
// text to a file and sends none, and nothing said so: the sidecar's start-up
// log warned of SMTP alone, the embedded module of neither. Now the start
// warns, through the logger, or as a process warning when the host gave none.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CapturingLogger, removeDir, startModule, tempDir } from '../support/harness';
import { startSidecarProcess } from '../support/sidecar-process';
import { eventually } from '../support/e2e-utils';

const DIST = path.resolve(__dirname, '../../dist/index.js');
const WARNING = /SMS enabled with the development log sender.*sms\.dev_sms_dir/;

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

describe('the embedded module', () => {
  it('warns through the logger when SMS is left on with the log sender, naming the folder', async () => {
    const logger = new CapturingLogger();
    const hs = await startModule({ database: { path: path.join(dir, 't.sqlite') }, sms: { dev_sms_dir: path.join(dir, 'texts') } }, { logger } as never);
    await hs.close();
    const warned = logger.lines.filter((line) => line.level === 'warn' && WARNING.test(line.message ?? ''));
    expect(warned).toEqual([expect.objectContaining({ fields: { dir: path.join(dir, 'texts') } })]);
  });

  it.each([
    ['SMS disabled', { enabled: false }],
    ['a real sender', { sender: 'http', http: { url: 'https://sms.example.org/send' } }],
  ])('says nothing of it with %s', async (_what, sms) => {
    const logger = new CapturingLogger();
    const hs = await startModule({ database: { path: path.join(dir, 't.sqlite') }, sms } as never, { logger } as never);
    await hs.close();
    expect(logger.text()).not.toMatch(WARNING);
  });

  it('is a process warning when the host gave no logger', async () => {
    const script = `
      const { createThreepidModule, parseConfig } = require(${JSON.stringify(DIST)});
      (async () => {
        const config = parseConfig({ database: { path: ${JSON.stringify(path.join(dir, 't.sqlite'))} }, sms: { dev_sms_dir: 'texts' } });
        const module = await createThreepidModule({ config, processMetrics: false });
        await module.close();
      })();`;
    const { stderr } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: dir, timeout: 60_000 });
    expect(stderr.split('\n').filter((line) => line.includes('THREEPID_SMS_TO_FILES'))).toEqual([expect.stringContaining(path.join(dir, 'texts'))]);
  });
});

it('the sidecar warns in its start-up log', async () => {
  const sidecar = await startSidecarProcess(dir, { sms: { dev_sms_dir: path.join(dir, 'texts') } } as never);
  try {
    await eventually(() => WARNING.test(sidecar.output()), 'the warning');
    expect(sidecar.output()).toContain(path.join(dir, 'texts'));
  } finally {
    await sidecar.stop();
  }
});
