/**
 * The SMS webhook's contract, as the README states it: a JSON POST of the
 * rendered body with the configured headers; 2xx sent, 408, 429 and 5xx retried,
 * any other 4xx failed at once, a redirect not followed.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config';
import { PermanentDeliveryError } from '../../src/delivery/errors';
import { createSmsTransport } from '../../src/delivery/sms-senders';
import { silentLogger } from '../../src/logger';
import { systemClock } from '../../src/sources';

describe('the SMS webhook', () => {
  const received: Array<{ method: string; headers: IncomingMessage['headers']; body: string }> = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method!, headers: req.headers, body });
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {}).end();
    });
  });
  let send: (text: string) => Promise<void>;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
    const sms = parseConfig({ sms: { sender: 'http', http: { url, headers: { 'x-api-key': 'k1' }, body: { to: '+{{to}}', text: '{{text}}', n: 1 } } } } as never).sms;
    const transport = createSmsTransport(sms, silentLogger, systemClock);
    send = (text) => transport.send({ to: '+447911123456', text });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => (received.length = 0));

  it('POSTs the rendered JSON body with Content-Type and the configured headers', async () => {
    status = 200;
    await send('Your code is 123456');
    expect(received).toHaveLength(1);
    expect(received[0].method).toBe('POST');
    expect(received[0].headers['content-type']).toBe('application/json');
    expect(received[0].headers['x-api-key']).toBe('k1');
    expect(JSON.parse(received[0].body)).toEqual({ to: '+447911123456', text: 'Your code is 123456', n: 1 });
  });

  it.each([408, 429, 500, 503])('retries a %i (a plain error, not a permanent one)', async (answer) => {
    status = answer;
    const failure = await send('x').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentDeliveryError);
  });

  it.each([400, 401, 404])('fails a %i at once', async (answer) => {
    status = answer;
    await expect(send('x')).rejects.toBeInstanceOf(PermanentDeliveryError);
  });

  it('does not follow a redirect', async () => {
    status = 302;
    await expect(send('x')).rejects.toThrow('SMS gateway not reached: redirected (redirects are not followed)');
    expect(received).toHaveLength(1);
  });
});
