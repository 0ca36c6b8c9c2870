/**
 * `npm run bench`: the module's routes and its outbox against a bare Express
 * route, on loopback. See the issue "Scale and speed" for what is measured.
 *
 * Environment:
 *   BENCH_SECONDS          measured seconds per HTTP scenario (default 10)
 *   BENCH_WARMUP_SECONDS   unmeasured load before each (default 3)
 *   BENCH_PIN              0: do not pin the server and the load to a core each (default: pinned)
 *   BENCH_ONLY             comma-separated scenario names to run (default: all)
 *   BENCH_SUBMIT_SESSIONS  sessions made for the submit scenario (default: enough at the bare route's rate)
 *   BENCH_PROFILE_DIR      run each server under --cpu-prof, writing its threads' profiles into <dir>/<scenario>/
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TEMPLATES_DIR } from '../src/delivery/templates';
import { SQL_DIR } from '../src/store/migrations';
import { submitTokenPath } from '../src/threepid/paths';
import { runLoad, type RequestSpec } from './load';
import { REQUEST_TOKEN_PATH, type ServerSpec } from './protocol';
import { formatTable, formatTargets, judge, type Row } from './report';
import { enqueueEmails, seedSessions, seedSubmittableSessions } from './seed';
import { pinCores, type Pinning } from './pinning';
import { ServerProcess } from './server-process';
import { measureStartup } from './startup';
import { SmtpSink } from './smtp-sink';

const SECONDS = positive('BENCH_SECONDS', 10);
const WARMUP_SECONDS = positive('BENCH_WARMUP_SECONDS', 3, true);
const ONLY = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ? path.resolve(process.env.BENCH_PROFILE_DIR) : undefined;
const SUBMIT_SESSIONS = positive('BENCH_SUBMIT_SESSIONS', 0, true) || undefined;
const CONNECTIONS = 10;
const OUTBOX_EMAILS = 10_000;
const OUTBOX_TIMEOUT_MS = 10 * 60_000;
const RESULTS_FILE = path.resolve('bench-results.json');

/** A number from the environment; `zeroAllowed` also accepts 0. */
function positive(name: string, fallback: number, zeroAllowed = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) throw new Error(`${name} must be a positive number`);
  return value;
}

/**
 * The compiled src/ looks for sql/ and templates/ two folders above itself,
 * which is dist-bench/ here: point those at the repository's own.
 */
function linkAssets(): void {
  const repoRoot = path.resolve(__dirname, '../..');
  for (const [dir, name] of [
    [SQL_DIR, 'sql'],
    [DEFAULT_TEMPLATES_DIR, 'templates'],
  ]) {
    if (!existsSync(dir)) symlinkSync(path.join(repoRoot, name), dir, 'junction');
  }
}

/**
 * An SMTP server that takes connections and never says a word: the module's
 * few pooled connections wait for a greeting, so nothing is sent and the
 * outbox does next to nothing while requests are measured.
 */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

/** A new client_secret and address for every request, as a sign-up wave would send. */
const runId = randomBytes(4).toString('hex');
let requestCounter = 0;
const requestToken: RequestSpec = {
  method: 'POST',
  path: REQUEST_TOKEN_PATH,
  body: () => {
    const n = requestCounter++;
    return JSON.stringify({ client_secret: `bench${runId}x${n}`, email: `bench-${runId}-${n}@example.org`, send_attempt: 1 });
  },
};

/** The same client_secret, address and send_attempt every time: after the first, each is answered from the session it made. */
const sameRequestToken: RequestSpec = {
  method: 'POST',
  path: REQUEST_TOKEN_PATH,
  body: () => JSON.stringify({ client_secret: `benchsame${runId}`, email: `same-${runId}@example.org`, send_attempt: 1 }),
};

/** How long the emails still unsent when the load ended take to reach the sink: at most this long. */
const BACKLOG_TIMEOUT_MS = 5 * 60_000;

interface Context {
  readonly dir: string;
  readonly sink: SmtpSink;
  readonly pinning: Pinning;
  /** The bare route's rate, once measured: submit sizes its pool of sessions on it. */
  bareRate?: number;
}

let pinning: Pinning | undefined;
let benchDir: string | undefined;

async function withServer<T>(name: string, spec: ServerSpec, work: (server: ServerProcess) => Promise<T>): Promise<T> {
  if (!pinning) throw new Error('cores not laid out yet');
  const server = await ServerProcess.start(name, spec, pinning, PROFILE_DIR);
  try {
    const result = await work(server);
    await server.stop();
    return result;
  } finally {
    server.kill();
  }
}

/** Warm-up, then the measured load with RSS sampled throughout (and, given a sink, the emails it got meanwhile). */
async function measure(
  name: string,
  description: string,
  server: ServerProcess,
  spec: RequestSpec,
  options: { sink?: SmtpSink; emailPerRequest?: boolean; expectStatus?: number } = {},
): Promise<Row> {
  const { sink, expectStatus } = options;
  // The sink counts from this server's start: each request of the warm-up and the run sends one email.
  sink?.reset();
  const warmUp = WARMUP_SECONDS > 0 ? await runLoad(server.url, spec, { connections: CONNECTIONS, seconds: WARMUP_SECONDS, expectStatus }) : undefined;
  const before = await server.usage();
  const emailsBefore = sink?.count ?? 0;
  const stopSampling = server.sampleRss();
  const result = await runLoad(server.url, spec, { connections: CONNECTIONS, seconds: SECONDS, expectStatus });
  const loadEndedAt = performance.now();
  const sentAtEnd = sink?.count ?? 0;
  const emails = sentAtEnd - emailsBefore;
  server.assertAlive();
  const after = await server.usage();
  let backlog: Row['backlog'];
  if (sink && options.emailPerRequest) {
    const total = (warmUp?.requests ?? 0) + result.requests;
    const unsent = total - sentAtEnd;
    await sink.waitFor(total, BACKLOG_TIMEOUT_MS);
    backlog = { emails: Math.max(0, unsent), drainSeconds: unsent > 0 ? ((sink.lastAt ?? loadEndedAt) - loadEndedAt) / 1000 : 0 };
  }
  const peakRssBytes = stopSampling();
  return {
    ...(sink && { emailsPerSecondAlongside: emails / result.seconds }),
    ...(backlog && { backlog }),
    name,
    description,
    rate: result.rps,
    unit: 'req/s',
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    peakRssBytes,
    count: result.requests,
    cpuMicrosPerItem: (after.cpuMicros - before.cpuMicros) / result.requests,
  };
}

/**
 * The bare route measured right before a module scenario, under the same
 * load; the scenario's ratio is to this pair.
 */
/** The bare route's own SQLite file, new for each of its runs. */
let bareRuns = 0;
function bareSpec(): ServerSpec {
  if (!benchDir) throw new Error('no bench folder yet');
  return { kind: 'bare', databasePath: path.join(benchDir, `bare-${bareRuns++}.sqlite`) };
}

async function withPairedBaseline(row: () => Promise<Row>): Promise<Row> {
  const bare = await withServer('bare', bareSpec(), (server) => measure('bare (paired)', '', server, requestToken));
  const measured = await row();
  return { ...measured, baseline: { rate: bare.rate, peakRssBytes: bare.peakRssBytes }, ratio: measured.rate / bare.rate };
}

type ModuleSpec = Extract<ServerSpec, { kind: 'module' }>;

function moduleSpec(context: Context, file: string): ModuleSpec {
  return { kind: 'module', databasePath: path.join(context.dir, file), smtpPort: context.sink.port };
}

interface Scenario {
  readonly name: string;
  readonly description: string;
  run(context: Context): Promise<Row>;
}

/** requestToken with a new address each time, on a server of its own: each request's email must reach the sink. */
function requestTokenWithEmail(context: Context, name: string, description: string, file: string): Promise<Row> {
  return withPairedBaseline(() =>
    withServer(name, moduleSpec(context, file), (server) =>
      measure(name, description, server, requestToken, { sink: context.sink, emailPerRequest: true }),
    ),
  );
}

const requestTokenWithStored = (name: string, sessions: number): Scenario => ({
  name,
  description: `requestToken with ${sessions.toLocaleString('en')} sessions already stored`,
  async run(context) {
    const spec = moduleSpec(context, `${name}.sqlite`);
    const started = performance.now();
    await seedSessions(spec.databasePath, sessions);
    console.log(`  seeded ${sessions} sessions in ${seconds(started)} s`);
    return requestTokenWithEmail(context, name, this.description, `${name}.sqlite`);
  },
});

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'bare',
    description: 'bare Express 5 + express.json(), one SQLite row inserted, answering {sid, submit_url} (baseline)',
    async run(context) {
      const row = await withServer('bare', bareSpec(), (server) => measure('bare', this.description, server, requestToken));
      context.bareRate = row.rate;
      return row;
    },
  },
  {
    name: 'requestToken',
    description: 'POST register/email/requestToken, a new address each request (session + its email, delivered during the run)',
    run(context) {
      return requestTokenWithEmail(context, 'requestToken', this.description, 'request-token.sqlite');
    },
  },
  {
    name: 'requestToken-same',
    description: 'requestToken with the same body every time (idempotent: the first makes the session, the rest answer it)',
    async run(context) {
      const spec = moduleSpec(context, 'request-token-same.sqlite');
      return withPairedBaseline(() => withServer('requestToken-same', spec, (server) => measure('requestToken-same', this.description, server, sameRequestToken)));
    },
  },
  {
    name: 'requestToken-429',
    description: "requestToken from one IP over Synapse's default rc_3pid_validation (a flood refused with 429)",
    async run(context) {
      const spec = { ...moduleSpec(context, 'request-token-429.sqlite'), rateLimited: true };
      return withPairedBaseline(() =>
        withServer('requestToken-429', spec, (server) => measure('requestToken-429', this.description, server, requestToken, { expectStatus: 429 })),
      );
    },
  },
  {
    name: 'requestToken-smtp-silent',
    description: 'requestToken while the SMTP server accepts connections and never answers: the request path alone, emails queued, none sent (not judged)',
    async run(context) {
      const silent = await silentServer();
      try {
        const spec = { ...moduleSpec(context, 'request-token-smtp-silent.sqlite'), smtpPort: silent.port };
        const row = await withPairedBaseline(() =>
          withServer('requestToken-smtp-silent', spec, (server) => measure('requestToken-smtp-silent', this.description, server, requestToken)),
        );
        return { ...row, diagnostic: true };
      } finally {
        await silent.close();
      }
    },
  },
  {
    name: 'submit',
    description: 'POST submit_url with the right token, a different session each request',
    async run(context) {
      const spec = moduleSpec(context, 'submit.sqlite');
      // Enough for the warm-up and the run at the bare route's pace, which submit will not beat.
      const needed = SUBMIT_SESSIONS ?? Math.ceil((context.bareRate ?? 5_000) * (WARMUP_SECONDS + SECONDS) * 1.2);
      const started = performance.now();
      const bodies = (await seedSubmittableSessions(spec.databasePath, needed)).map((body) => JSON.stringify(body));
      console.log(`  stored ${bodies.length} sessions with known tokens in ${seconds(started)} s`);
      return withPairedBaseline(() => withServer('submit', spec, async (server) => {
        let next = 0;
        const submit: RequestSpec = {
          method: 'POST',
          path: submitTokenPath('email'),
          // Should the pool run dry, sessions are used again (already validated: a cheaper path), and the run says so.
          body: () => bodies[next++ % bodies.length],
        };
        const row = await measure('submit', this.description, server, submit);
        if (next > bodies.length) {
          console.warn(`  WARNING: ${next - bodies.length} submits reused a session; set BENCH_SUBMIT_SESSIONS above ${next}`);
        }
        return row;
      }));
    },
  },
  {
    name: 'versions',
    description: 'GET /_matrix/client/versions',
    async run(context) {
      const spec = moduleSpec(context, 'versions.sqlite');
      const versions: RequestSpec = { method: 'GET', path: '/_matrix/client/versions' };
      return withPairedBaseline(() => withServer('versions', spec, (server) => measure('versions', this.description, server, versions)));
    },
  },
  {
    name: 'outbox',
    description: `the outbox draining ${OUTBOX_EMAILS.toLocaleString('en')} queued emails to the SMTP sink`,
    async run(context) {
      const spec = moduleSpec(context, 'outbox.sqlite');
      await enqueueEmails(spec.databasePath, OUTBOX_EMAILS);
      context.sink.reset();
      // The worker starts with the module and finds every message due.
      const row = await withServer('outbox', spec, async (server) => {
        const stopSampling = server.sampleRss();
        await context.sink.waitFor(OUTBOX_EMAILS, OUTBOX_TIMEOUT_MS);
        const peakRssBytes = stopSampling();
        // From the child's start: start-up is included, so this is an upper bound.
        const { cpuMicros } = await server.usage();
        const { firstAt = 0, lastAt = 0, count } = context.sink;
        return {
          name: 'outbox',
          description: this.description,
          rate: ((count - 1) / (lastAt - firstAt)) * 1000,
          unit: 'emails/s' as const,
          peakRssBytes,
          count,
          cpuMicrosPerItem: cpuMicros / count,
        };
      });
      // Counted once the server has stopped: a message sent twice would show here.
      if (context.sink.count !== OUTBOX_EMAILS) {
        console.warn(`  WARNING: the sink received ${context.sink.count} messages for ${OUTBOX_EMAILS} queued`);
      }
      return row;
    },
  },
  requestTokenWithStored('requestToken@1k', 1_000),
  requestTokenWithStored('requestToken@1M', 1_000_000),
  {
    name: 'startup',
    description: 'the sidecar (node dist/cli.js, a new SQLite file, development mail) from process start to its first answered request',
    async run(context) {
      const result = await measureStartup(context.dir, context.pinning);
      console.log(`  ${result.samplesMs.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`);
      return result.row;
    },
  },
];

async function main(): Promise<void> {
  linkAssets();
  const unknown = ONLY?.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown scenario(s) ${unknown.join(', ')}`);
  const scenarios = SCENARIOS.filter((scenario) => !ONLY || ONLY.includes(scenario.name));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'threepid-bench-'));
  benchDir = dir;
  pinning = pinCores(process.env.BENCH_PIN !== '0');
  const sink = await SmtpSink.start();
  const context: Context = { dir, sink, pinning };
  const rows: Row[] = [];
  console.log(
    `${SECONDS} s per scenario after ${WARMUP_SECONDS} s of warm-up, ${CONNECTIONS} connections, on ${os.cpus()[0]?.model} ×${os.cpus().length}; ${pinning.summary}`,
  );
  try {
    for (const scenario of scenarios) {
      console.log(`${scenario.name}: ${scenario.description}`);
      rows.push(await scenario.run(context));
    }
  } finally {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const withRatios = rows.map((row) => (row.name === 'bare' ? { ...row, ratio: 1 } : row));
  const targets = judge(withRatios);
  console.log(`\n${formatTable(withRatios)}\n\n${formatTargets(targets)}`);

  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryBytes: os.totalmem(), node: process.version },
        settings: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS, outboxEmails: OUTBOX_EMAILS, pinning: pinning.summary },
        rows: withRatios,
        targets,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwritten: ${RESULTS_FILE}`);
}

// A missed target is a result; only a failure of the harness itself exits non-zero.
main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
