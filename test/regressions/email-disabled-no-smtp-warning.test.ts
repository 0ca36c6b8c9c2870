/**
 * With `email.enabled: false` the sidecar still warned "no SMTP configured:
 * emails are written to files", about emails it never sends. The warning is
 * for an enabled email without SMTP only.
 */
import { removeDir, tempDir } from '../support/harness';
import { startSidecarProcess } from '../support/sidecar-process';

async function startOutput(email: Record<string, unknown>): Promise<string> {
  const dir = tempDir();
  try {
    const sidecar = await startSidecarProcess(dir, { email: { dev_mail_dir: `${dir}/mail`, ...email } });
    await sidecar.stop();
    return sidecar.output();
  } finally {
    removeDir(dir);
  }
}

describe('the no-SMTP warning at start', () => {
  it('is not given when email is disabled', async () => {
    const output = await startOutput({ enabled: false });
    expect(output).toContain('internal listener ready');
    expect(output).not.toContain('no SMTP configured');
  });

  it('is given when email is enabled without SMTP', async () => {
    expect(await startOutput({})).toContain('no SMTP configured');
  });
});
