import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { eventually, freePort } from '../support/e2e-utils';
import { internalToken, post, removeDir, SHARED_SECRET, tempDir } from '../support/harness';
import { postgresDatabaseFor, testEngine } from '../support/postgres';
import { linkIn, startSmtpSink, type SmtpSink } from '../support/smtp';

const ROOT = path.resolve(__dirname, '../..');
const REQUESTS = 300;

interface Replica {
  name: string;
  url: string;
  internalUrl: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Several sidecar replicas on one PostgreSQL database: any replica answers
 * any request, and a replica killed mid-send leaves its messages to another.
 * PostgreSQL only: SQLite is one process's store.
 */
const OUTBOX_KEY = `replicas:${Buffer.alloc(32, 42).toString('base64')}`;

(testEngine() === 'postgres' ? describe : describe.skip)('two sidecar replicas sharing PostgreSQL', () => {
  let smtp: SmtpSink;
  let dir: string;
  let databaseUrl: string;
  const replicas: Replica[] = [];

  async function startReplica(name: string): Promise<Replica> {
    const [port, internalPort] = [await freePort(), await freePort()];
    const config = path.join(dir, `${name}.yaml`);
    writeFileSync(
      config,
      stringify({
        public_baseurl: `http://127.0.0.1:${port}`,
        listeners: { client: { host: '127.0.0.1', port }, internal: { host: '127.0.0.1', port: internalPort } },
        database: { engine: 'postgres', url: databaseUrl },
        email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
        homeserver: { shared_secret: SHARED_SECRET },
        rc_3pid_validation: { per_second: 100000, burst_count: 100000 },
        // Replicas share the keys that seal the outbox (and make sids opaque): either can send, or answer for, any session.
        outbox: { lease: '3s', send_timeout: '2s', keys: [OUTBOX_KEY] },
      }),
    );
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), '--config', config], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const replica = { name, url: `http://127.0.0.1:${port}`, internalUrl: `http://127.0.0.1:${internalPort}`, child, exited };
    await eventually(async () => (await fetch(`${replica.internalUrl}/ready`).catch(() => undefined))?.status === 200, `${name} to be ready`, 20_000);
    replicas.push(replica);
    return replica;
  }

  beforeAll(async () => {
    dir = tempDir('threepid-replicas-');
    smtp = await startSmtpSink();
    databaseUrl = await postgresDatabaseFor(path.join(dir, 'shared.sqlite'));
  });

  afterAll(async () => {
    for (const replica of replicas) replica.child.kill('SIGKILL');
    await Promise.all(replicas.map((replica) => replica.exited));
    await smtp.close();
    removeDir(dir);
  });

  it('answers from either replica, survives a SIGKILL mid-load, and every email arrives', async () => {
    // Both start at once: the migrations run once, under the migrator's lock.
    const [a, b] = await Promise.all([startReplica('a'), startReplica('b')]);
    const sessions = new Map<string, { sid: string; secret: string }>();
    let killed = false;

    const request = async (i: number) => {
      const email = `user${i}@example.org`;
      const secret = `secret${i}`;
      const first = i % 2 === 0 ? a : b;
      if (i === REQUESTS / 2 && !killed) {
        killed = true;
        b.child.kill('SIGKILL');
      }
      // As a load balancer would: a replica that does not answer is skipped.
      for (const replica of [first, a]) {
        try {
          const res = await post(`${replica.url}/_matrix/client/v3/register/email/requestToken`, { client_secret: secret, email, send_attempt: 1 });
          if (res.status === 200) {
            sessions.set(email, { sid: res.body.sid, secret });
            return;
          }
        } catch {
          /* connection refused: try the next replica */
        }
      }
      throw new Error(`no replica answered for ${email}`);
    };
    for (let i = 0; i < REQUESTS; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => request(i + k)));
    }
    await b.exited;
    expect(sessions.size).toBe(REQUESTS);

    // Replica A sends its own mail and, once B's leases end, B's unsent mail too.
    await eventually(() => new Set(smtp.messages.flatMap((m) => m.to)).size === REQUESTS, 'an email for every session', 60_000);
    const byAddress = new Map<string, Set<string>>();
    for (const mail of smtp.messages) {
      const messageId = /^Message-ID:\s*(\S+)/im.exec(mail.raw)?.[1] ?? '';
      for (const to of mail.to) byAddress.set(to, new Set([...(byAddress.get(to) ?? []), messageId]));
    }
    // A message may be sent twice only if B died between the SMTP server's
    // answer and recording it; it then keeps its Message-ID. No address ever
    // gets two different messages.
    for (const ids of byAddress.values()) expect(ids.size).toBe(1);
    const duplicates = smtp.messages.length - REQUESTS;
    expect(duplicates).toBeLessThanOrEqual(50);

    // Every session validates, half through A and half through a restarted B.
    const b2 = await startReplica('b2');
    let index = 0;
    for (const [email, { sid, secret }] of sessions) {
      const mail = smtp.messages.find((m) => m.to.includes(email))!;
      const token = linkIn(mail).searchParams.get('token');
      const via = index++ % 2 === 0 ? a : b2;
      const submitted = await post(`${via.url}/_threepid/client/v1/email/submit_token`, { sid, client_secret: secret, token });
      expect(submitted.body).toEqual({ success: true });
      const other = via === a ? b2 : a;
      const consumed = await post(
        `${other.internalUrl}/_threepid/v1/sessions/consume`,
        { sid, client_secret: secret, flow: 'register' },
        { authorization: `Bearer ${internalToken()}` },
      );
      expect(consumed.body.address).toBe(email);
    }
  }, 180_000);
});
