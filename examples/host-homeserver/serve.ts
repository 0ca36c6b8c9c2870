import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Running {
  /** e.g. `http://127.0.0.1:8008` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listens on loopback first (port 0: any free one), so the URL is known
 * before the app is built; `handle` then receives the requests.
 */
export async function listen(port = 0, host = '127.0.0.1'): Promise<{ url: string; handle(app: RequestListener): void; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return { url, server, handle: (app) => void server.on('request', app) };
}

export async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
