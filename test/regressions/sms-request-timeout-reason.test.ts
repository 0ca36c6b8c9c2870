/**
 * A provider that took the request and never answered: the send's own
 * request timeout ended it and it was retried, but the reason logged was
 * the number 23 (DOMException's legacy code for a TimeoutError) and the
 * reason stored "23.0". Both now say the provider was not reached: the
 * request timed out.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { eventually, queryDb } from '../support/e2e-utils';
import { CapturingLogger, FakeClock, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { snsSmsConfig, vonageSmsConfig } from '../support/sms-gateway';

const REQUEST_TIMEOUT_WAIT_MS = 40_000;

describe('a provider that never answers', () => {
  let silent: Server;
  let dir: string;
  let hs: Running | undefined;

  beforeEach(async () => {
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    dir = tempDir();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    removeDir(dir);
  });

  it.each([
    ['Vonage', vonageSmsConfig],
    ['Amazon SNS', snsSmsConfig],
  ])(
    '%s: the send is retried, and the reason says it timed out',
    async (provider, smsConfig) => {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const logger = new CapturingLogger();
      const database = path.join(dir, 'threepid.sqlite');
      hs = await startModule({ database: { path: database }, sms: smsConfig(url) } as RawConfig & { database: { path: string } }, { clock: new FakeClock(Date.now()), logger });
      const res = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, { client_secret: 'cs', country: 'FR', phone_number: '0612345678', send_attempt: 1 });
      expect(res.status).toBe(200);
      const running = hs;
      await eventually(() => running.module.deliveryCounts.retried === 1, 'the timed-out send to be retried', REQUEST_TIMEOUT_WAIT_MS);
      const [row] = await queryDb<{ status: string; last_error: string }>(database, 'SELECT status, last_error FROM threepid_outbox');
      const reason = `${provider} not reached: timed out (no answer within 15 s)`;
      expect(row).toEqual({ status: 'pending', last_error: reason });
      const retried = logger.lines.find((line) => line.message === 'delivery failed; will retry');
      expect(retried?.fields).toMatchObject({ reason });
    },
    REQUEST_TIMEOUT_WAIT_MS + 10_000,
  );
});
