/**
 * A provider's request has its own timeout beside the outbox's deadline.
 * The two were joined with AbortSignal.any, which holds its sources weakly:
 * once a garbage collection had taken the timeout signal, the timeout never
 * fired, and a provider that took the request and never answered held the
 * send until the outbox's deadline. The timeout now fires after any number
 * of collections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createVonageSmsTransport } from '../../src/delivery/sms-vonage';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

describe("a provider request's own timeout", () => {
  let silent: Server;
  beforeEach(async () => {
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  });
  afterEach(async () => {
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('ends a request that is never answered, though garbage is collected meanwhile and the deadline is far off', async () => {
    const transport = createVonageSmsTransport({ apiKey: 'k', apiSecret: 's', from: 'ExampleHS', baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    const outboxDeadline = new AbortController();
    const collecting = setInterval(collectGarbage, 100);
    try {
      await expect(transport.send({ to: '+33612345678', text: 'x' }, outboxDeadline.signal)).rejects.toMatchObject({ name: 'TimeoutError' });
    } finally {
      clearInterval(collecting);
    }
    expect(outboxDeadline.signal.aborted).toBe(false);
  }, 40_000);
});
