import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { parseConfig } from '../../../src/config';
import { createListener } from '../../../src/http/listener';
import { eventually } from '../../support/e2e-utils';

/** A connected socket from this test to the listener on loopback. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The status line the listener answers a request on `socket` with, or '' when it closes the socket instead. */
function answer(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) resolve(text.slice(0, text.indexOf('\r\n')));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(''));
    socket.write('GET / HTTP/1.1\r\nHost: listener.test\r\n\r\n');
  });
}

/** Connection caps of the listener over real sockets: a socket over a cap is closed unanswered. */
describe('the listener’s connection caps', () => {
  let server: Server;
  const sockets: Socket[] = [];

  afterEach(async () => {
    sockets.splice(0).forEach((socket) => socket.destroy());
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function listen(limits: Record<string, number>, options: { trustedProxies?: string[]; fdLimit?: number } = {}): Promise<number> {
    const settings = parseConfig({ listeners: { client: limits } }).listeners.client;
    server = createListener((_req, res) => void res.end('ok'), settings, { fdLimit: undefined, ...options });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  async function held(port: number): Promise<Socket> {
    const socket = await open(port);
    sockets.push(socket);
    return socket;
  }

  it('closes a client’s connection over its per-IP cap unanswered, and takes one again once another closes', async () => {
    const port = await listen({ max_connections: 0, max_connections_per_ip: 2 });
    const first = await held(port);
    const second = await held(port);
    expect(await answer(await held(port))).toBe('');
    expect(await answer(first)).toBe('HTTP/1.1 200 OK');
    expect(await answer(second)).toBe('HTTP/1.1 200 OK');

    first.destroy();
    await eventually(async () => (await answer(await held(port))) === 'HTTP/1.1 200 OK', 'a connection taken once one closed');
  });

  it('leaves a trusted proxy out of the per-IP cap: every client behind it shares its address', async () => {
    const port = await listen({ max_connections: 0, max_connections_per_ip: 1 }, { trustedProxies: ['127.0.0.1'] });
    const all = [await held(port), await held(port), await held(port)];
    expect(await Promise.all(all.map(answer))).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
  });

  it('closes connections over the whole listener’s cap, whoever they come from', async () => {
    const port = await listen({ max_connections: 2, max_connections_per_ip: 0 }, { trustedProxies: ['127.0.0.1'] });
    expect(server.maxConnections).toBe(2);
    const first = await held(port);
    const second = await held(port);
    // The server counts a connection once it has accepted it: wait until both are.
    await eventually(
      () => new Promise<boolean>((resolve) => server.getConnections((_err, count) => resolve(count === 2))),
      'both connections accepted',
    );
    expect(await answer(await held(port))).toBe('');
    expect(await answer(first)).toBe('HTTP/1.1 200 OK');
    expect(await answer(second)).toBe('HTTP/1.1 200 OK');
  });
});
