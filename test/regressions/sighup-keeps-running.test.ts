// Regression: the sidecar had no SIGHUP handler, so a HUP (a closed
// terminal, a stray `kill -HUP`, a reload) ended it with status 129, no log
// line, and the request in flight dropped; systemd counts that as a clean
// stop, so Restart=on-failure never brought it back.
import { request } from 'node:http';
import { eventually } from '../support/e2e-utils';
import { removeDir, SHARED_SECRET, tempDir } from '../support/harness';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';

function body(email: string): string {
  return JSON.stringify({ client_secret: `secret-${email.length}`, email, send_attempt: 1 });
}

/** A POST whose body is sent in two parts: the request is in flight until `finish()`. */
function startRequest(url: string, text: string): { sent: Promise<void>; finish(): void; answer: Promise<{ status: number; body: string }> } {
  const half = Math.floor(text.length / 2);
  const req = request(`${url}${REGISTER}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let received = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: received }));
    });
  });
  // Resolves once the headers and the first half are handed to the socket.
  const sent = new Promise<void>((resolve) => req.write(text.slice(0, half), () => resolve()));
  return { sent, finish: () => req.end(text.slice(half)), answer };
}

describe('SIGHUP', () => {
  let dir: string;
  let sidecar: SidecarProcess;
  beforeAll(async () => {
    dir = tempDir('threepid-sighup-');
    sidecar = await startSidecarProcess(dir, { homeserver: { shared_secret: SHARED_SECRET } });
  });
  afterAll(async () => {
    await sidecar?.stop();
    removeDir(dir);
  });

  it('is logged, lets the request in flight finish, and the sidecar keeps answering', async () => {
    const inFlight = startRequest(sidecar.url, body('first@example.org'));
    // The connection is open and half the body sent before the signal.
    await inFlight.sent;
    sidecar.kill('SIGHUP');
    await eventually(() => sidecar.output().includes('"signal":"SIGHUP"'), 'a log line for the SIGHUP');
    inFlight.finish();
    const first = await inFlight.answer;
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toHaveProperty('sid');

    const next = startRequest(sidecar.url, body('second@example.org'));
    next.finish();
    expect((await next.answer).status).toBe(200);
    expect((await fetch(`${sidecar.internalUrl}/health`)).status).toBe(200);
  }, 60_000);
});
