import path from 'node:path';
import type { RawConfig } from '../../src/config';
import type { ThreepidModuleOptions } from '../../src/module';
import { startSidecarHostHomeserver } from '../../examples/host-homeserver/sidecar-host';
import { freePort } from './e2e-utils';
import { SHARED_SECRET, startModule } from './harness';
import { setupNginx, startNginx, type RunningNginx } from './nginx';
import { twilioSmsConfig, type SmsGateway } from './sms-gateway';
import type { SmtpSink } from './smtp';

const HIGH = { per_second: 1000, burst_count: 1000 };

/** The module's settings for the client tests: real SMTP, the Twilio-shaped gateway, no rate limits in the way. */
export function threepidTestConfig(dir: string, smtp: SmtpSink, gateway: SmsGateway): RawConfig & { database: { path: string } } {
  return {
    server_name: 'example.org',
    database: { path: path.join(dir, 'threepid.sqlite') },
    email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, app_name: 'ExampleHS' },
    sms: twilioSmsConfig(gateway.url),
    rc_3pid_validation: HIGH,
  };
}

export interface SidecarBehindNginx {
  /** What clients use as the homeserver's base URL: nginx. */
  baseUrl: string;
  nginx: RunningNginx;
  /** host:port of the sidecar's public listener and of the homeserver, as nginx logs its upstreams. */
  sidecarAddress: string;
  homeserverAddress: string;
  close(): Promise<void>;
}

/**
 * examples/host-homeserver/sidecar-host.ts, which knows nothing of 3PIDs
 * but the internal API, and the sidecar (in-process, routed as src/cli.ts
 * routes it), both behind nginx run with examples/nginx/threepid.conf (the
 * README's configuration). `extra` reaches the module (a clock, say).
 */
export async function startSidecarBehindNginx(
  dir: string,
  smtp: SmtpSink,
  gateway: SmsGateway,
  extra: Omit<ThreepidModuleOptions, 'config'> = {},
): Promise<SidecarBehindNginx> {
  const nginxBinary = setupNginx();
  const [hostPort, nginxPort] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${nginxPort}`;
  const sidecar = await startModule(
    {
      ...threepidTestConfig(dir, smtp, gateway),
      public_baseurl: publicUrl,
      trusted_proxies: ['127.0.0.1'],
      homeserver: { shared_secret: SHARED_SECRET, base_url: `http://127.0.0.1:${hostPort}` },
    },
    extra,
  );
  const host = await startSidecarHostHomeserver({
    serverName: 'example.org',
    port: hostPort,
    sidecar: { internalUrl: sidecar.internalUrl, sharedSecret: SHARED_SECRET },
  });
  const nginx = await startNginx(nginxBinary, { sidecarUrl: sidecar.url, homeserverUrl: host.url, port: nginxPort });
  return {
    baseUrl: nginx.url,
    nginx,
    sidecarAddress: new URL(sidecar.url).host,
    homeserverAddress: new URL(host.url).host,
    async close() {
      await nginx.close();
      await host.close();
      await sidecar.close();
    },
  };
}
