/**
 * Behaviours a fault-injection probe found to hold, kept held: a SIGKILL in
 * the middle of a burst on SQLite, SMTP answers that are final or not, a
 * SIGTERM while an SMTP round is stuck, forwarded headers that must not reach
 * the emailed link, and the headers of the page that link opens.
 *
 * The real sidecar process where the process is what is probed; the module
 * in-process where its delivery counters say what happened. Real SMTP
 * servers on loopback throughout.
 */
import http from 'node:http';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { RawConfig } from '../../src/config';
import { decodeHtmlEntities, eventually, queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { startScriptedSmtp, type SmtpBehaviour } from '../support/scripted-smtp';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process';
import { linkIn, startSmtpSink, type ReceivedMail } from '../support/smtp';
import { startStallingSmtp } from '../support/stalling-smtp';

const REGISTER = '/_matrix/client/v3/register/email/requestToken';

let dir: string;
const sidecars: SidecarProcess[] = [];
const closers: Array<() => Promise<void>> = [];

beforeEach(() => {
  dir = tempDir('threepid-held-');
});

afterEach(async () => {
  for (const sidecar of sidecars.splice(0)) await sidecar.stop();
  for (const close of closers.splice(0).reverse()) await close();
  removeDir(dir);
});

async function sidecar(raw: RawConfig) {
  const started = await startSidecarProcess(dir, raw);
  sidecars.push(started);
  return started;
}

const messageIdOf = (mail: ReceivedMail) => /^Message-ID:\s*(\S+)/im.exec(mail.raw)?.[1];

describe('a SIGKILL in the middle of a burst, on SQLite', () => {
  const REQUESTS = 400;

  it('loses no email a 200 promised, sends none as two different messages, and leaves the database intact', async () => {
    const smtp = await startSmtpSink();
    closers.push(() => smtp.close());
    const config = {
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
      rc_3pid_validation: { per_second: 100_000, burst_count: 100_000 },
      // A message the killed process had claimed is free again soon after the restart.
      outbox: { lease: '4s', send_timeout: '3s', concurrency: 4 },
    };
    const first = await sidecar(config);
    const promised: string[] = [];
    let next = 0;
    // Sixteen clients, each with one request in flight at all times, until the process is gone.
    const client = async () => {
      while (next < REQUESTS && first.running()) {
        const email = `burst-${next++}@example.org`;
        const res = await post(first.url + REGISTER, { client_secret: email.replace('@', '_at_'), email, send_attempt: 1 }).catch(() => undefined);
        if (res?.status === 200) promised.push(email);
      }
    };
    const clients = Array.from({ length: 16 }, client);
    // Mid-burst: requests are being answered and mail is being sent (or, should
    // sending lag far behind, at least before the burst is half over).
    const underWay = () => (promised.length >= 50 && smtp.messages.length >= 20) || promised.length >= REQUESTS / 2;
    await eventually(underWay, 'the burst to be under way', 20_000);
    first.kill('SIGKILL');
    await Promise.all(clients);
    expect(await first.exited).toBe('SIGKILL');
    expect(promised.length).toBeLessThan(REQUESTS);

    const second = await sidecar(config);
    const dbPath = path.join(dir, 'threepid.sqlite');
    await eventually(
      async () => (await queryDb<{ n: number }>(dbPath, "SELECT count(*) AS n FROM threepid_outbox WHERE status != 'sent'"))[0].n === 0,
      'the outbox to drain after the restart',
      30_000,
    );
    await second.stop();

    // At least once (README): a copy sent again after the kill is the same message, with the same Message-ID.
    expect(smtp.messages.filter((mail) => !messageIdOf(mail))).toEqual([]);
    const byAddress = new Map<string, Set<string | undefined>>();
    for (const mail of smtp.messages) {
      for (const to of mail.to) byAddress.set(to, (byAddress.get(to) ?? new Set()).add(messageIdOf(mail)));
    }
    const unsent = promised.filter((email) => !byAddress.has(email));
    expect(unsent).toEqual([]);
    const sentAsSeveralMessages = promised.filter((email) => byAddress.get(email)!.size !== 1);
    expect(sentAsSeveralMessages).toEqual([]);
    // A second copy comes only from a send in flight at the kill (the outbox had
    // four at a time), or from one the process itself gave up on or lost the
    // lease of (a loaded machine can push a send past its deadline): it logs each.
    const logged = [first, second]
      .flatMap((run) => run.output().split('\n'))
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { msg?: string }).msg);
    const cutShort = logged.filter((msg) => msg === 'delivery failed; will retry' || msg === 'outbox lease ran out before the send ended').length;
    expect(smtp.messages.length - byAddress.size).toBeLessThanOrEqual(4 + cutShort);

    const db = new BetterSqlite3(dbPath, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 60_000);
});

describe('SMTP answers, final or not', () => {
  /** One message through a server that behaves as `behaviours` says, connection by connection. */
  async function deliverThrough(behaviours: SmtpBehaviour[]) {
    const smtp = await startScriptedSmtp(behaviours);
    closers.push(() => smtp.close());
    const hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') }, email: { smtp_host: '127.0.0.1', smtp_port: smtp.port } });
    closers.push(() => hs.close());
    const res = await post(hs.url + REGISTER, { client_secret: 'smtp-answers', email: 'answers@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    return { smtp, hs };
  }

  it('gives up at once on a 554 refusing the message, trying it once only', async () => {
    const { smtp, hs } = await deliverThrough(['reject-data-554', 'accept']);
    await eventually(() => hs.module.deliveryCounts.failed === 1, 'the message to be given up on');
    const rows = await queryDb<{ status: string; attempts: number }>(path.join(dir, 'threepid.sqlite'), 'SELECT status, attempts FROM threepid_outbox');
    expect(rows.map((row) => ({ ...row, attempts: Number(row.attempts) }))).toEqual([{ status: 'failed', attempts: 1 }]);
    expect(hs.module.deliveryCounts.retried).toBe(0);
    expect(smtp.accepted).toEqual([]);
  });

  it.each([
    ['a 421 greeting', 'greet-421'],
    ['a connection closed right after EHLO', 'close-after-ehlo'],
  ] as const)('retries after %s, and delivers once the server is well', async (_name, fault) => {
    const { smtp, hs } = await deliverThrough([fault, 'accept']);
    await eventually(() => hs.module.deliveryCounts.retried >= 1, 'a retry to be scheduled');
    expect(hs.module.deliveryCounts.failed).toBe(0);
    hs.module.flushOutbox();
    await eventually(() => hs.module.deliveryCounts.sent === 1, 'the retried message to be sent');
    expect(smtp.accepted).toEqual(['answers@example.org']);
    expect(hs.module.deliveryCounts.failed).toBe(0);
  });
});

it('on SIGTERM with an SMTP round stuck, exits 0 by itself and keeps the unsent message in the outbox', async () => {
  const smtp = await startStallingSmtp('stall');
  closers.push(() => smtp.close());
  // The default send deadline (45 s) is longer than the bound below: only the shutdown's own limit can end the wait.
  const sidecarProcess = await sidecar({ email: { smtp_host: '127.0.0.1', smtp_port: smtp.port } });
  const res = await post(sidecarProcess.url + REGISTER, { client_secret: 'stuck-round', email: 'stuck@example.org', send_attempt: 1 });
  expect(res.status).toBe(200);
  await eventually(() => smtp.stalled === 1, 'the SMTP server to hold the message unanswered');

  sidecarProcess.kill('SIGTERM');
  const GENEROUS_MS = 30_000;
  let bound: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    sidecarProcess.exited,
    new Promise<string>((resolve) => (bound = setTimeout(() => resolve(`still running after ${GENEROUS_MS} ms`), GENEROUS_MS))),
  ]);
  clearTimeout(bound);
  expect(outcome).toBe(0);
  expect(smtp.stalled).toBe(1);
  const rows = await queryDb<{ status: string; payload: string | null }>(path.join(dir, 'threepid.sqlite'), 'SELECT status, payload FROM threepid_outbox');
  expect(rows).toEqual([{ status: 'pending', payload: expect.any(String) }]);
}, 60_000);

describe('the emailed link and the page it opens', () => {
  const PUBLIC_BASEURL = 'https://matrix.example.org/';
  /** Every header a client or a proxy might use to name another host, scheme or path. */
  const FORGED = {
    host: 'evil.example',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'http',
    'x-forwarded-port': '8666',
    'x-forwarded-prefix': '/evil',
    'x-forwarded-server': 'evil.example',
    'x-original-host': 'evil.example',
    forwarded: 'for=203.0.113.9;host=evil.example;proto=http',
  };

  /** POSTs with headers fetch would not send as given (Host above all). */
  function rawPost(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (response) => {
        let answer = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(answer) }));
      });
      request.on('error', reject);
      request.end(text);
    });
  }

  async function start() {
    const smtp = await startSmtpSink();
    closers.push(() => smtp.close());
    // Loopback is a trusted proxy: its X-Forwarded-* headers are believed for the client's address, and must still not make links.
    const sidecarProcess = await sidecar({ public_baseurl: PUBLIC_BASEURL, trusted_proxies: ['loopback'], email: { smtp_host: '127.0.0.1', smtp_port: smtp.port } });
    return { smtp, sidecarProcess };
  }

  it('is made from public_baseurl alone, whatever Host and X-Forwarded-* say', async () => {
    const { smtp, sidecarProcess } = await start();
    const res = await rawPost(sidecarProcess.url + REGISTER, { client_secret: 'forged-host', email: 'forged@example.org', send_attempt: 1 }, FORGED);
    expect(res.status).toBe(200);
    expect(res.body.submit_url).toMatch(/^https:\/\/matrix\.example\.org\/_/);
    const mail = await smtp.nthTo('forged@example.org', 1);
    expect(linkIn(mail).origin).toBe('https://matrix.example.org');
    expect(linkIn(mail).pathname).toMatch(/^\/_threepid\//);
    for (const part of [mail.text, decodeHtmlEntities(mail.html)]) {
      expect(part).not.toMatch(/evil|8666/);
      expect(part).toContain('https://matrix.example.org/_threepid/');
    }
  });

  it('opens a page that no other site may frame, that sends no referrer and sets no cookie', async () => {
    const { smtp, sidecarProcess } = await start();
    const res = await post(sidecarProcess.url + REGISTER, { client_secret: 'page-headers', email: 'page@example.org', send_attempt: 1 });
    expect(res.status).toBe(200);
    const link = linkIn(await smtp.nthTo('page@example.org', 1));
    // The link names the public address; the page is asked for where this process listens.
    const pageUrl = `${sidecarProcess.url}${link.pathname}`;
    const confirmPage = await fetch(`${pageUrl}${link.search}`);
    const failurePage = await fetch(`${pageUrl}?sid=nope&client_secret=nope&token=nope`);
    const successPage = await fetch(pageUrl, { method: 'POST', body: link.searchParams, redirect: 'manual' });
    expect([confirmPage.status, failurePage.status, successPage.status]).toEqual([200, 400, 200]);
    for (const page of [confirmPage, failurePage, successPage]) {
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('content-security-policy')).toMatch(/(^|;)\s*frame-ancestors 'none'(;|$)/);
      expect(page.headers.get('set-cookie')).toBeNull();
      expect(page.headers.getSetCookie()).toEqual([]);
    }
  });
});
