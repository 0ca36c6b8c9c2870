/**
 * Express matches the `public_baseurl` path case-insensitively and
 * `req.baseUrl` keeps the request's casing, so each casing of `/matrix`
 * was a route label of its own: 2,000 requests made 15,362 series. A
 * hostile client varies casing, paths, methods, the statuses it provokes
 * and its headers; `/metrics` must hold no series but those one ordinary
 * request of each kind made.
 */
import { request as httpRequest, Agent } from 'node:http';
import path from 'node:path';
import { eventually } from '../support/e2e-utils';
import { internalToken, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { SeededRandom } from '../support/seeded-random';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const PREFIX = '/matrix';
const REQUEST_TOKEN = '/_matrix/client/v3/register/email/requestToken';
const V1_REQUEST_TOKEN = '/_matrix/identity/api/v1/validate/msisdn/requestToken';
const LINK_PAGE = '/_threepid/client/v1/email/validate';
const BINDINGS = '/_threepid/v1/bindings/';
/** Methods Node's parser accepts beyond the ordinary ones; each was a label value of its own. */
const ODD_METHODS = ['PROPFIND', 'MKCOL', 'PURGE', 'LOCK', 'UNLOCK', 'PATCH', 'REPORT', 'SEARCH', 'COPY', 'MOVE', 'NOTIFY', 'LINK'];
const VALID_BODY = JSON.stringify({ client_secret: 'steady', email: 'steady@example.org', send_attempt: 1 });

interface Call {
  listener: 'public' | 'internal';
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

/**
 * Each kind of request the hostile client sends, with the variation it
 * applies (`pick` chooses); `prefix` is the public listener's: `/matrix`
 * (in some casing) or none, as a reverse proxy may strip it.
 */
type Kind = (pick: Picker, prefix: string) => Call;

class Picker {
  private readonly random: SeededRandom;
  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }
  /** Ordinary requests: nothing varied. */
  static readonly ordinary = new (class extends Picker {
    override int(): number {
      return 0;
    }
  })(1);
  int(below: number): number {
    return this.random.bytes(4).readUInt32BE(0) % below;
  }
  of<T>(values: readonly T[]): T {
    return values[this.int(values.length)];
  }
  /** `text` in a random casing (the first choice: as written). */
  casing(text: string): string {
    if (this.int(4) === 0) return text;
    return [...text].map((c) => (this.int(2) ? c.toUpperCase() : c.toLowerCase())).join('');
  }
  word(): string {
    return this.int(1e9).toString(36);
  }
  headers(): Record<string, string> {
    if (this.int(2) === 0) return {};
    return {
      [`x-${this.word()}`]: this.word(),
      'accept-language': this.of(['de', 'fr-CA', `x-${this.word()}`, '*']),
      'x-forwarded-for': `10.${this.int(256)}.${this.int(256)}.${this.int(256)}`,
      'user-agent': this.word(),
    };
  }
}

const underPrefix = (pick: Picker, prefix: string, route: string) => `${pick.casing(prefix)}${pick.casing(route)}`;

const KINDS: Record<string, Kind> = {
  'a valid requestToken (200)': (pick, prefix) => ({ listener: 'public', method: 'POST', path: underPrefix(pick, prefix, REQUEST_TOKEN), body: VALID_BODY, headers: pick.headers() }),
  'a requestToken that is not JSON (400)': (pick, prefix) => ({ listener: 'public', method: 'POST', path: underPrefix(pick, prefix, REQUEST_TOKEN), body: `{${pick.word()}`, headers: pick.headers() }),
  'a requestToken with fields missing (400)': (pick, prefix) => ({ listener: 'public', method: 'POST', path: underPrefix(pick, prefix, REQUEST_TOKEN), body: JSON.stringify({ [pick.word()]: 1 }) }),
  'a requestToken too large (413)': (pick, prefix) => ({ listener: 'public', method: 'POST', path: underPrefix(pick, prefix, REQUEST_TOKEN), body: `{"x":"${'a'.repeat(70_000 + pick.int(1000))}"}` }),
  'a requestToken by GET (405)': (pick, prefix) => ({ listener: 'public', method: 'GET', path: underPrefix(pick, prefix, REQUEST_TOKEN), headers: pick.headers() }),
  'a requestToken by an odd method (405)': (pick, prefix) => ({ listener: 'public', method: pick.of(ODD_METHODS), path: underPrefix(pick, prefix, REQUEST_TOKEN) }),
  'the link page with a made-up token': (pick, prefix) => ({
    listener: 'public',
    method: 'GET',
    path: `${underPrefix(pick, prefix, LINK_PAGE)}?sid=${pick.word()}&client_secret=${pick.word()}&token=${pick.word()}`,
    headers: pick.headers(),
  }),
  'an unknown path (404)': (pick, prefix) => ({ listener: 'public', method: 'GET', path: `${pick.casing(prefix)}/${pick.word()}/${pick.word()}` }),
  'an unknown path by an odd method (404)': (pick, prefix) => ({ listener: 'public', method: pick.of(ODD_METHODS), path: `${pick.casing(prefix)}/${pick.word()}` }),
  'a preflight (200)': (pick, prefix) => ({ listener: 'public', method: 'OPTIONS', path: underPrefix(pick, prefix, REQUEST_TOKEN), headers: pick.headers() }),
  'a HEAD of the versions (404 here)': (pick, prefix) => ({ listener: 'public', method: 'HEAD', path: pick.casing(`${prefix}/_matrix/client/versions/${pick.word()}`) }),
  'a binding without a JWT (401)': (pick) => ({ listener: 'internal', method: 'GET', path: `${pick.casing(BINDINGS)}email/${pick.word()}%40example.org` }),
  'a binding with a JWT (404)': (pick) => ({
    listener: 'internal',
    method: 'GET',
    path: `${pick.casing(BINDINGS)}email/${pick.word()}%40example.org`,
    headers: { authorization: `Bearer ${internalToken()}` },
  }),
  'a binding of an unknown medium (400)': (pick) => ({
    listener: 'internal',
    method: 'GET',
    path: `${pick.casing(BINDINGS)}${pick.word()}/${pick.word()}`,
    headers: { authorization: `Bearer ${internalToken()}` },
  }),
  'a v1 requestToken that is not JSON (400)': (pick) => ({ listener: 'internal', method: 'POST', path: pick.casing(V1_REQUEST_TOKEN), body: `[${pick.word()}` }),
};

describe('a hostile client cannot add metrics series', () => {
  let smtp: SmtpSink;
  let dir: string;
  let hs: Running;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  beforeAll(async () => {
    smtp = await startSmtpSink();
    dir = tempDir();
    hs = await startModule({
      database: { path: path.join(dir, 'threepid.sqlite') },
      // The prefix is what Express matched without regard to case.
      public_baseurl: `http://127.0.0.1${PREFIX}`,
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port },
    });
  });

  afterAll(async () => {
    agent.destroy();
    await hs.close();
    await smtp.close();
    removeDir(dir);
  });

  function send(call: Call): Promise<number> {
    const base = new URL(call.listener === 'public' ? hs.url : hs.internalUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method: call.method,
          path: call.path,
          headers: { ...(call.body === undefined ? {} : { 'content-type': 'application/json' }), ...call.headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      // A server may close a connection whose body it refused (413) before the body is all sent.
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve(-1) : reject(err)));
      req.end(call.body);
    });
  }

  /** Every series (name and labels) the metrics page holds. */
  async function series(): Promise<Set<string>> {
    const text = await (await fetch(`${hs.internalUrl}/metrics`)).text();
    const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    return new Set(lines.map((line) => line.slice(0, line.lastIndexOf(' '))));
  }

  it('keeps the series of one ordinary request of each kind after thousands of varied ones', async () => {
    const kinds = Object.values(KINDS);
    for (const kind of kinds) for (const prefix of ['', PREFIX]) await send(kind(Picker.ordinary, prefix));
    // The one email the valid request queued is sent, and counted, before the count is taken.
    await smtp.waitFor(1);
    await eventually(async () => [...(await series())].some((s) => s.includes('outcome="sent"')), 'the email to be counted as sent');
    const ordinary = await series();

    const pick = new Picker(22);
    const statuses = new Set<number>();
    let next = 0;
    const TOTAL = 3000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < TOTAL) {
          next += 1;
          statuses.add(await send(pick.of(kinds)(pick, pick.of(['', PREFIX]))));
        }
      }),
    );
    // The variation reached the statuses too, not only the paths.
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 400, 401, 404, 405, 413]));

    const after = await series();
    expect([...after].filter((s) => !ordinary.has(s))).toEqual([]);
    expect(after.size).toBe(ordinary.size);
  }, 180_000);

  it('counts an unknown method as other, a status it never answers by class, routes past the hundredth and rules past the 32nd as other', async () => {
    const metrics = hs.module.metrics;
    metrics.request('/_threepid/test/teapot', 'BREW', 418, 0.001);
    metrics.request('/_threepid/test/teapot', 'GET', 999, 0.001);
    for (let i = 0; i < 300; i++) metrics.request(`/_threepid/test/${i}`, 'GET', 200, 0.001);
    const requests = [...(await series())].filter((s) => s.startsWith('threepid_http_requests_total'));
    expect(requests).toContain('threepid_http_requests_total{route="/_threepid/test/teapot",method="other",status="4xx"}');
    expect(requests).toContain('threepid_http_requests_total{route="/_threepid/test/teapot",method="GET",status="other"}');
    expect(requests).toContain('threepid_http_requests_total{route="other",method="GET",status="200"}');
    expect(requests.length).toBeLessThanOrEqual(100 * 3);

    for (let i = 0; i < 100; i++) metrics.rateLimited(`test_rule_${i}`);
    const rules = [...(await series())].filter((s) => s.startsWith('threepid_rate_limited_total'));
    expect(rules).toContain('threepid_rate_limited_total{rule="other"}');
    expect(rules.length).toBeLessThanOrEqual(33);
  });
});
