/**
 * Where a scenario's CPU goes, by kind of work, from its `--cpu-prof`
 * profiles (every thread of one server, as BENCH_PROFILE_DIR writes them):
 * the share of the busy samples each kind takes, and, given the scenario's
 * server CPU per request from a run without the profiler, what that share
 * is in microseconds.
 *
 *   node dist-bench/bench/profile-categories.js <dir of one scenario> [µs per request]
 *
 * Samples taken while a thread waits (idle) are left out. On one core, a
 * thread's `postMessage` to another is charged with the time the other ran
 * before it got the core back; those samples are left out too (the other
 * thread's own profile holds that work).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The kinds, first match wins: a frame is classed by its own function and file, and by the frames above it for native work. */
const KINDS: ReadonlyArray<readonly [string, (frame: ProfileNode['callFrame']) => boolean]> = [
  ['SQLite (its own work, inside statements)', (f) => f.functionName === 'executeQuery' && /kysely/.test(f.url)],
  ['Kysely (queries, connection, transactions)', (f) => /node_modules\/kysely\//.test(f.url) || /\/store\//.test(f.url)],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['Express, router, body parser', (f) => /node_modules\/(express|router|body-parser|raw-body|on-finished|finalhandler|content-type|type-is|mime-types|parseurl|iconv-lite|send|statuses|forwarded|proxy-addr)\//.test(f.url)],
  ['metrics and logs (prom-client, pino)', (f) => /node_modules\/(prom-client|pino)|\/observability\/|\/http\/observe/.test(f.url)],
  ['email: rendering, MIME, SMTP', (f) => /\/delivery\/|node_modules\/(nodemailer|mustache|intl-messageformat|@formatjs)\//.test(f.url)],
  ['checks, tokens, sealing (the module\'s own request logic)', (f) => /\/(threepid|http|policy)\/|node_modules\/(validator|ipaddr\.js)\//.test(f.url)],
  ['crypto (HMAC, AES)', (f) => /^(Hmac|update|digest|createCipherBase|final|randomFillSync|Cipheriv|Decipheriv)$/.test(f.functionName)],
  ['Node: HTTP, sockets, streams, timers', (f) => f.url.startsWith('node:') || /^(writev|writeBuffer|writeUtf8String|writeString|runMicrotasks|\(program\))$/.test(f.functionName)],
];

const LEFT_OUT = new Set(['(idle)', 'postMessage']);

function classify(file: string, totals: Map<string, number>): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const kindOf = new Map<number, string | undefined>();
  const kind = (id: number): string | undefined => {
    if (kindOf.has(id)) return kindOf.get(id);
    const { callFrame } = byId.get(id)!;
    let found: string | undefined = KINDS.find(([, test]) => test(callFrame))?.[0];
    // Native and anonymous frames take their caller's kind.
    if (!found && !callFrame.url && parent.has(id)) found = kind(parent.get(id)!);
    kindOf.set(id, found);
    return found;
  };
  profile.samples.forEach((id, index) => {
    const name = byId.get(id)!.callFrame.functionName;
    if (LEFT_OUT.has(name)) return;
    const label = kind(id) ?? 'other';
    totals.set(label, (totals.get(label) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
}

function main(): void {
  const [dir, perRequestArg] = process.argv.slice(2);
  if (!dir) throw new Error('usage: profile-categories <scenario profile dir> [µs per request]');
  const totals = new Map<string, number>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) classify(path.join(dir, file), totals);
  const busy = [...totals.values()].reduce((sum, us) => sum + us, 0);
  const perRequest = perRequestArg === undefined ? undefined : Number(perRequestArg);
  console.log(`${dir}: ${(busy / 1e6).toFixed(1)} s busy on all threads`);
  for (const [label, us] of [...totals].sort((a, b) => b[1] - a[1])) {
    const share = us / busy;
    console.log(`${(share * 100).toFixed(1).padStart(5)}%${perRequest === undefined ? '' : `  ${(share * perRequest).toFixed(0).padStart(5)} µs`}  ${label}`);
  }
}

main();
