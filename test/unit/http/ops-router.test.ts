import express from 'express';
import type { Kysely } from 'kysely';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpsRouter, type PendingMigrations, type WriteProblem } from '../../../src/http/ops-router';
import { Keyring } from '../../../src/keyring';
import { StoreUnavailable } from '../../../src/model';
import { Metrics } from '../../../src/observability/metrics';
import { AesGcmSealer } from '../../../src/store/sealing';
import { openSqliteDatabase } from '../../../src/store/database';
import type { Database } from '../../../src/store/schema';
import { Store } from '../../../src/store/store';
import { CapturingLogger, FakeClock } from '../../support/harness';

/** `/health`, `/ready` and `/metrics` over real HTTP, with what the readiness check finds scripted per test. */
describe('the operator endpoints', () => {
  let db: Kysely<Database>;
  let metrics: Metrics;
  let server: Server | undefined;
  let logger: CapturingLogger;

  beforeAll(async () => {
    db = await openSqliteDatabase(':memory:');
    metrics = new Metrics(new Store(db, 'sqlite', new AesGcmSealer(Keyring.ephemeral())), new FakeClock(), false);
  });

  afterAll(() => db.destroy());

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function ops(pending: PendingMigrations, writeProblem?: WriteProblem): Promise<string> {
    logger = new CapturingLogger();
    const app = express().use(createOpsRouter(pending, metrics, logger, writeProblem));
    const listening = app.listen(0, '127.0.0.1');
    server = listening;
    await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
    return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  }

  async function get(url: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
    const response = await fetch(url, { method });
    return { status: response.status, body: await response.json() };
  }

  it('answers /health, and /ready once the database answers with nothing pending and no write problem by default', async () => {
    const base = await ops(async () => []);
    expect(await get(`${base}/health`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await get(`${base}/ready`)).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('is not ready while migrations are pending, and names them', async () => {
    const base = await ops(async () => ['0007_new_table']);
    expect(await get(`${base}/ready`)).toEqual({ status: 503, body: { status: 'migrations pending', pending: ['0007_new_table'] } });
  });

  it('is not ready while writes fail, without even asking the database', async () => {
    let asked = false;
    const base = await ops(
      async () => {
        asked = true;
        return [];
      },
      () => 'disk full',
    );
    expect(await get(`${base}/ready`)).toEqual({ status: 503, body: { status: 'database cannot write', reason: 'disk full' } });
    expect(asked).toBe(false);
  });

  it("is not ready when the database does not answer, with the store's reason and a warning in the log", async () => {
    const base = await ops(async () => {
      throw new StoreUnavailable('timeout', 'connect ETIMEDOUT');
    });
    expect(await get(`${base}/ready`)).toEqual({ status: 503, body: { status: 'database unavailable', reason: 'connect ETIMEDOUT' } });
    expect(logger.lines).toEqual([{ level: 'warn', fields: { err: 'database unavailable (timeout): connect ETIMEDOUT' }, message: 'readiness check failed' }]);
  });

  it('gives no reason for a failure that is not the store being unavailable', async () => {
    const base = await ops(async () => {
      throw new Error('something else');
    });
    expect(await get(`${base}/ready`)).toEqual({ status: 503, body: { status: 'database unavailable' } });
  });

  it.each<[string, PendingMigrations, WriteProblem | undefined, number]>([
    ['ready', async () => [], undefined, 1],
    ['migrations pending', async () => ['0007_new_table'], undefined, 0],
    ['writes failing', async () => [], () => 'disk full', 0],
    [
      'the database not answering',
      async () => {
        throw new StoreUnavailable('timeout', 'connect ETIMEDOUT');
      },
      undefined,
      0,
    ],
  ])('reports threepid_ready as /ready decides (%s), at each scrape', async (_case, pending, writeProblem, ready) => {
    const base = await ops(pending, writeProblem);
    expect((await get(`${base}/ready`)).status).toBe(ready ? 200 : 503);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(new RegExp(`^threepid_ready ${ready}$`, 'm'));
  });

  it('serves the metrics in Prometheus text format, and refuses other methods on each endpoint as a Matrix error', async () => {
    const base = await ops(async () => []);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('# TYPE threepid_http_requests_total counter');
    for (const route of ['/health', '/ready', '/metrics']) {
      expect(await get(`${base}${route}`, 'POST')).toEqual({ status: 405, body: { errcode: 'M_UNRECOGNIZED', error: 'Method not allowed on this endpoint' } });
    }
  });
});
