// Regression: with request_token_inhibit_3pid_errors, a refused request's
// decoy skipped sealing, the outbox insert and the worker's wake-up, so it
// answered measurably sooner than a real request (medians 1.18 against
// 1.70 ms): the stopwatch told bound addresses from free ones. A decoy now
// seals and writes its message like a real one, in a row the worker never
// claims, and wakes the worker too; it still sends nothing.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../../src/config';
import { OutboxWorker } from '../../src/delivery/outbox-worker';
import { Keyring } from '../../src/keyring';
import { silentLogger } from '../../src/logger';
import { cryptoRandom, systemClock } from '../../src/sources';
import { AesGcmSealer } from '../../src/store/sealing';
import { Store } from '../../src/store/store';
import { BindingService } from '../../src/threepid/bindings';
import { ThreepidService } from '../../src/threepid/service';
import type { Flow } from '../../src/model';
import { IdCodec, SecretMacs } from '../../src/threepid/tokens';
import { eventually, queryDb } from '../support/e2e-utils';
import { post, removeDir, startModule, tempDir } from '../support/harness';
import { openTestDatabase, testEngine } from '../support/postgres';
import { mannWhitneyU, median } from '../support/rank-test';
import { SeededRandom } from '../support/seeded-random';
import { startSmsGateway } from '../support/sms-gateway';
import { startSmtpSink } from '../support/smtp';

/** Requests of each kind: {@link WARM_UP} of each (on average) are not measured. */
const PER_KIND = Number(process.env.DECOY_TIMING_PER_KIND ?? 700);
const WARM_UP = 100;
/**
 * A difference this many standard errors away from none fails the test. With
 * no difference, |z| passes 4 about once in 16,000 runs.
 */
const MAX_ABS_Z = 4;

// A statistic over thousands of requests: measured once, on the embedded default.
const onSqlite = testEngine() === 'sqlite' ? it : it.skip;

onSqlite('a decoy takes as long as a real request (Mann-Whitney U over both kinds, interleaved at random)', async () => {
  const dir = tempDir('threepid-decoy-timing-');
  const { db, engine } = await openTestDatabase(dir);
  const keyring = Keyring.ephemeral();
  const store = new Store(db, engine, new AesGcmSealer(keyring));
  const config = parseConfig({
    public_baseurl: 'https://matrix.example.org/',
    request_token_inhibit_3pid_errors: true,
    rc_3pid_validation: { per_second: 100_000, burst_count: 100_000 },
  });
  const bindings = new BindingService(store, systemClock);
  // The real worker, claiming and marking rows; only the wire is left out.
  const worker = new OutboxWorker({
    store,
    senders: { email: async () => {} },
    clock: systemClock,
    random: cryptoRandom,
    logger: silentLogger,
    maxAttempts: { email: 3, sms: 3 },
  });
  const service = new ThreepidService({
    config,
    store,
    directory: bindings,
    clock: systemClock,
    random: cryptoRandom,
    ids: new IdCodec(keyring),
    secrets: new SecretMacs(keyring),
    onEnqueued: () => worker.wake(),
  });
  worker.start();
  try {
    // Half of each kind registers, half resets a password, so that both
    // find an owner for their address as often; each has an address of its own.
    const request = (kind: 'real' | 'decoy', n: number): [Flow, string] => {
      const register = n % 2 === 0;
      const bound = register === (kind === 'decoy');
      return [register ? 'register' : 'password', `${bound ? 'bound' : 'free'}-${kind}${n}@example.org`];
    };
    for (let n = 0; n < PER_KIND; n++) {
      for (const kind of ['real', 'decoy'] as const) {
        const [, email] = request(kind, n);
        if (email.startsWith('bound')) await bindings.put('email', email, `@${kind}${n}:example.org`);
      }
    }
    const timed = async (kind: 'real' | 'decoy', n: number): Promise<number> => {
      const [flow, email] = request(kind, n);
      const started = performance.now();
      await service.requestToken(flow, 'email', { client_secret: `${kind}${n}`, email, send_attempt: 1 }, { clientIp: '192.0.2.1' });
      return performance.now() - started;
    };

    // As many of each, in an order drawn at random: whatever one request
    // leaves behind (the worker's round after a real one above all) falls on
    // the next, which is then of either kind as often.
    const order = new SeededRandom(7);
    const kinds = Array.from({ length: 2 * PER_KIND }, (_, i): 'real' | 'decoy' => (i % 2 === 0 ? 'real' : 'decoy'));
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = order.bytes(4).readUInt32BE(0) % (i + 1);
      [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
    }
    const took = { real: [] as number[], decoy: [] as number[] };
    const next = { real: 0, decoy: 0 };
    for (const [i, kind] of kinds.entries()) {
      const ms = await timed(kind, next[kind]++);
      // A server turns its event loop between requests: the worker's rounds
      // run then, as they would, instead of starving behind this loop.
      await new Promise((resolve) => setImmediate(resolve));
      // The first requests are not measured: the JIT and the caches settle first.
      if (i >= 2 * WARM_UP) took[kind].push(ms);
    }
    const { real, decoy } = took;

    const { z, superiority } = mannWhitneyU(decoy, real);
    const summary =
      `medians: real ${median(real).toFixed(3)} ms, decoy ${median(decoy).toFixed(3)} ms; ` +
      `z = ${z.toFixed(2)}, P(decoy > real) = ${superiority.toFixed(3)}`;
    if (process.env.DECOY_TIMING_REPORT) console.log(summary);
    expect({ summary, indistinct: Math.abs(z) < MAX_ABS_Z }).toEqual({ summary, indistinct: true });
  } finally {
    await worker.stop();
    await db.destroy();
    removeDir(dir);
  }
}, 300_000);

it('a decoy sends nothing, and leaves nothing that looks like mail waiting', async () => {
  const smtp = await startSmtpSink();
  const gateway = await startSmsGateway();
  const dir = tempDir();
  const raw = {
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    sms: { sender: 'http' as const, http: { url: `${gateway.url}/webhook` }, daily_limit: 1 },
    request_token_inhibit_3pid_errors: true,
  };
  let hs = await startModule(raw);
  try {
    await hs.module.bindings.put('email', 'taken@example.org', '@u:example.org');
    await hs.module.bindings.put('msisdn', '12127365000', '@u:example.org');
    const client = `${hs.url}/_matrix/client/v3`;
    const decoys = [
      await post(`${client}/register/email/requestToken`, { client_secret: 'a', email: 'taken@example.org', send_attempt: 1 }),
      await post(`${client}/account/password/email/requestToken`, { client_secret: 'b', email: 'free@example.org', send_attempt: 1 }),
      await post(`${client}/register/msisdn/requestToken`, { client_secret: 'c', country: 'US', phone_number: '2127365000', send_attempt: 1 }),
      // A higher send_attempt writes a message for a real session: for a decoy's too.
      await post(`${client}/register/email/requestToken`, { client_secret: 'a', email: 'taken@example.org', send_attempt: 2 }),
    ];
    expect(decoys.map((res) => res.status)).toEqual([200, 200, 200, 200]);
    const rows = () => queryDb<{ status: string }>(raw.database.path, 'SELECT status FROM threepid_outbox');
    expect((await rows()).map((row) => row.status)).toEqual(['decoy', 'decoy', 'decoy', 'decoy']);

    // A real message after them goes out: the worker ran its rounds, and passed the decoys over.
    await post(`${client}/register/email/requestToken`, { client_secret: 'd', email: 'real@example.org', send_attempt: 1 });
    expect((await smtp.nthTo('real@example.org', 1)).to).toEqual(['real@example.org']);
    await eventually(async () => (await rows()).some((row) => row.status === 'sent'), 'the real message to be marked sent');
    expect((await rows()).map((row) => row.status).sort()).toEqual(['decoy', 'decoy', 'decoy', 'decoy', 'sent']);
    expect(smtp.messages).toHaveLength(1);
    expect(gateway.messages).toHaveLength(0);
    // Nor does the SMS daily cap (one text here) count the decoy's.
    const text = await post(`${client}/register/msisdn/requestToken`, { client_secret: 'e', country: 'US', phone_number: '4155550100', send_attempt: 1 });
    expect(text.status).toBe(200);
    await gateway.codeTo('+14155550100');
    expect(gateway.messages).toHaveLength(1);
    await eventually(async () => (await rows()).every((row) => row.status !== 'pending'), 'the text to be marked sent');

    // The operator's view: nothing waiting, nothing failed.
    const metrics = await (await fetch(`${hs.internalUrl}/metrics`)).text();
    expect(metrics).toMatch(/^threepid_outbox_depth 0$/m);
    expect(metrics).toMatch(/^threepid_messages_total\{channel="email",provider="smtp",outcome="queued"\} 1$/m);
    expect(metrics).toMatch(/^threepid_messages_total\{channel="sms",provider="http",outcome="queued"\} 1$/m);
    expect(metrics).not.toMatch(/outcome="failed"/);

    // The purge (run at every start) clears decoys at once.
    await hs.close();
    hs = await startModule(raw);
    expect((await rows()).map((row) => row.status)).toEqual(['sent', 'sent']);
  } finally {
    await hs.close();
    await smtp.close();
    await gateway.close();
    removeDir(dir);
  }
});
