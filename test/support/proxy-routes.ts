/** What a reverse proxy in front of the sidecar must route where (the README's nginx and Caddy examples). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Paths the proxy sends to the sidecar's client listener. */
export const SIDECAR_PATHS: readonly string[] = [
  ...['r0', 'v3'].flatMap((version) => [
    ...['register', 'account/password', 'account/3pid'].flatMap((flow) =>
      ['email', 'msisdn'].map((medium) => `/_matrix/client/${version}/${flow}/${medium}/requestToken`),
    ),
    ...['', '/add', '/delete', '/unbind'].map((end) => `/_matrix/client/${version}/account/3pid${end}`),
  ]),
  '/_threepid/client/v1/email/submit_token',
  '/_threepid/client/v1/email/validate',
  '/_matrix/client/versions',
];

/** Paths that must reach the homeserver, never the sidecar (the internal API among them). */
export const HOMESERVER_PATHS: readonly string[] = [
  '/_matrix/client/v3/register',
  '/_matrix/client/v3/account/password',
  '/_matrix/client/v3/account/3pid/bind',
  '/_matrix/client/v3/account/whoami',
  '/_matrix/client/v3/login',
  '/_matrix/client/v3/register/email/requestToken/extra',
  '/_threepid/v1/sessions/consume',
];

export interface RecordingHomeserver {
  url: string;
  /** Every request it received: path, X-Forwarded-For, Host. */
  seen: Array<{ path: string; forwardedFor: string | undefined; host: string | undefined }>;
  close(): Promise<void>;
}

/** A stand-in homeserver on loopback that answers every request `{"from":"homeserver"}` and records it. */
export async function startRecordingHomeserver(): Promise<RecordingHomeserver> {
  const seen: RecordingHomeserver['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', forwardedFor: req.headers['x-forwarded-for'] as string | undefined, host: req.headers.host });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ from: 'homeserver' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Which server answered a POST to `path` through the proxy at `proxyUrl`. */
export async function answeredBy(proxyUrl: string, path: string): Promise<'homeserver' | 'sidecar'> {
  const res = await fetch(proxyUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const text = await res.text();
  return text.includes('"from":"homeserver"') ? 'homeserver' : 'sidecar';
}
