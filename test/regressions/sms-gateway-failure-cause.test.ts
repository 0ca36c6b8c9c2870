/**
 * A webhook call that got no answer was logged as "fetch failed" alone: the
 * operator could not tell a gateway down from a wrong host or a timeout.
 * The reason logged and recorded now names the cause (connection refused,
 * timed out), never the URL's query or credentials, the number or the text.
 */
import path from 'node:path';
import { parseConfig } from '../../src/config';
import { PermanentDeliveryError } from '../../src/delivery/errors';
import { createSmsTransport } from '../../src/delivery/sms-senders';
import { silentLogger } from '../../src/logger';
import { systemClock } from '../../src/sources';
import { eventually, freePort, queryDb, startSilentServer } from '../support/e2e-utils';
import { CapturingLogger, post, removeDir, startModule, tempDir } from '../support/harness';

const NUMBER = '+447911123456';
const webhook = (url: string) => ({ sender: 'http', http: { url, headers: { authorization: 'Bearer gateway-key' }, body: { to: '{{to}}', text: '{{text}}' } } });

describe('an SMS webhook that cannot be reached', () => {
  it('is retried, and the reason logged and recorded says the connection was refused', async () => {
    const port = await freePort(); // nothing listens there
    const dir = tempDir();
    const logger = new CapturingLogger();
    const database = path.join(dir, 'threepid.sqlite');
    const hs = await startModule(
      { database: { path: database }, sms: webhook(`http://127.0.0.1:${port}/send?key=query-secret`) } as never,
      { logger },
    );
    try {
      const res = await post(`${hs.url}/_matrix/client/v3/register/msisdn/requestToken`, {
        client_secret: 'cs',
        country: 'GB',
        phone_number: NUMBER,
        send_attempt: 1,
      });
      expect(res.status).toBe(200);
      const failed = await eventually(
        () => logger.lines.find((line) => line.message === 'delivery failed; will retry'),
        'the failed send to be logged',
      );
      const reason = (failed!.fields as { reason: string }).reason;
      expect(reason).toBe('SMS gateway not reached: connection refused (ECONNREFUSED)');
      const rows = await queryDb<{ last_error: string }>(database, 'SELECT last_error FROM threepid_outbox');
      expect(rows.map((row) => row.last_error)).toEqual([reason]);
      const text = logger.text();
      for (const secret of ['query-secret', String(port), '7911123456', 'gateway-key']) expect(text).not.toContain(secret);
    } finally {
      await hs.close();
      removeDir(dir);
    }
  });

  it('never quotes a URL that fetch refuses for its credentials', async () => {
    // The configuration refuses such a URL; the transport must not quote one that got past it all the same.
    const sms = parseConfig({ sms: webhook('http://127.0.0.1:9/send') } as never).sms;
    const transport = createSmsTransport({ ...sms, http: { ...sms.http!, url: 'http://user:pass-secret@127.0.0.1:9/send' } }, silentLogger, systemClock);
    const sending = transport.send({ to: NUMBER, text: 'Your code is 123456' });
    await expect(sending).rejects.toThrow(/^SMS gateway not reached: request not made: Request cannot be constructed from a URL that includes credentials$/);
  });

  it('says it timed out when the gateway takes the request and never answers', async () => {
    const silent = await startSilentServer();
    const sms = parseConfig({ sms: webhook(`http://127.0.0.1:${silent.port}/send`) } as never).sms;
    const transport = createSmsTransport(sms, silentLogger, systemClock);
    try {
      const sending = transport.send({ to: NUMBER, text: 'Your code is 123456' });
      await expect(sending).rejects.not.toBeInstanceOf(PermanentDeliveryError);
      await expect(sending).rejects.toThrow(
        /^SMS gateway not reached: timed out \(no answer within 15 s\)$/,
      );
    } finally {
      await silent.destroy();
    }
  }, 30_000);
});
