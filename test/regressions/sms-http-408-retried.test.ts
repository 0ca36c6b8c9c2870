/**
 * A 408 Request Timeout (a proxy or load balancer in front of the provider
 * gave up waiting for the request, which was never handled) was taken for
 * a refusal for good: the message was failed at its first attempt and the
 * code never sent. It is retried now, as 429 and 5xx are.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentDeliveryError } from '../../src/delivery/errors';
import { createHttpSmsTransport } from '../../src/delivery/sms-senders';
import { createSnsSmsTransport } from '../../src/delivery/sms-sns';
import type { SmsTransport } from '../../src/delivery/sms-transport';
import { createTwilioSmsTransport } from '../../src/delivery/sms-twilio';
import { createVonageSmsTransport } from '../../src/delivery/sms-vonage';

describe('an SMS provider behind a proxy that answers 408', () => {
  let proxy: Server;
  let url: string;
  beforeEach(async () => {
    proxy = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(408, { 'content-type': 'text/html', connection: 'close' }).end('<html><h1>408 Request Time-out</h1></html>'));
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  it.each<[string, (url: string) => SmsTransport]>([
    ['the JSON webhook', (base) => createHttpSmsTransport({ url: `${base}/webhook`, headers: {}, body: { to: '{{to}}', text: '{{text}}' } })],
    ['Twilio', (base) => createTwilioSmsTransport({ accountSid: 'AC1', authToken: 't', from: '+15005550006', messagingServiceSid: undefined, baseUrl: base })],
    ['Amazon SNS', (base) => createSnsSmsTransport({ region: 'eu-west-1', accessKeyId: 'AKID', secretAccessKey: 's', sessionToken: undefined, senderId: undefined, endpoint: base }, { now: () => Date.now() })],
    ['Vonage', (base) => createVonageSmsTransport({ apiKey: 'k', apiSecret: 's', from: 'ExampleHS', baseUrl: base })],
  ])('%s: the send fails for now, to be retried', async (_what, transport) => {
    const failure = await transport(url)
      .send({ to: '+33612345678', text: '482913 is your code' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentDeliveryError);
    expect((failure as Error).message).toMatch(/408/);
  });
});
