import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayMessage {
  via: 'twilio' | 'webhook';
  to: string;
  text: string;
  from?: string;
  messagingServiceSid?: string;
  headers: IncomingMessage['headers'];
  raw: unknown;
}

export interface SmsGateway {
  url: string;
  messages: GatewayMessage[];
  /** Answer the next `count` requests with this status (503: outage, 400: refusal). */
  failNext(count: number, status: number): void;
  /** The six-digit code in the last message to `to` (E.164 with `+`). */
  codeFor(to: string): string;
  /** The code in the latest text to `to`, once one has arrived (fails after `timeoutMs`). */
  codeTo(to: string, timeoutMs?: number): Promise<string>;
  waitFor(count: number, timeoutMs?: number): Promise<GatewayMessage[]>;
  close(): Promise<void>;
}

export const TWILIO_ACCOUNT_SID = 'AC00000000000000000000000000000001';
export const TWILIO_AUTH_TOKEN = 'test-auth-token';

/** Rate limits no test reaches by accident. */
const HIGH_LIMIT = { per_second: 1000, burst_count: 1000 };

/** The module's `sms` config for sending through this gateway's Twilio endpoint, with limits out of the way. */
export function twilioSmsConfig(gatewayUrl: string) {
  return {
    sender: 'twilio' as const,
    twilio: { account_sid: TWILIO_ACCOUNT_SID, auth_token: TWILIO_AUTH_TOKEN, from: '+15005550006', base_url: gatewayUrl },
    rc_per_number: HIGH_LIMIT,
    rc_per_prefix: HIGH_LIMIT,
    rc_per_ip: HIGH_LIMIT,
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local SMS gateway: Twilio's Messages endpoint (request and response
 * shape of `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, Basic auth,
 * form body, 201 with the message resource or 4xx `{code, message, status}`)
 * and a generic JSON webhook at `/webhook`.
 */
export async function startSmsGateway(): Promise<SmsGateway> {
  const messages: GatewayMessage[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 0 };
  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (failures.count > 0) {
      failures.count -= 1;
      return json(failures.status, { code: 20500, message: 'Gateway failure for the test', status: failures.status });
    }
    const twilio = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
    if (req.method === 'POST' && twilio) {
      const expected = `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`;
      if (twilio[1] !== TWILIO_ACCOUNT_SID || req.headers.authorization !== expected) {
        return json(401, { code: 20003, message: 'Authenticate', status: 401 });
      }
      const form = new URLSearchParams(raw);
      const to = form.get('To') ?? '';
      const from = form.get('From') ?? undefined;
      const messagingServiceSid = form.get('MessagingServiceSid') ?? undefined;
      if (!/^\+\d{8,15}$/.test(to) || !form.get('Body') || (!from && !messagingServiceSid)) {
        return json(400, { code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 });
      }
      messages.push({ via: 'twilio', to, text: form.get('Body')!, from, messagingServiceSid, headers: req.headers, raw });
      return json(201, {
        sid: `SM${messages.length.toString().padStart(32, '0')}`,
        account_sid: TWILIO_ACCOUNT_SID,
        to,
        from: from ?? null,
        messaging_service_sid: messagingServiceSid ?? null,
        body: form.get('Body'),
        status: 'queued',
        num_segments: '1',
        direction: 'outbound-api',
        api_version: '2010-04-01',
        error_code: null,
        error_message: null,
      });
    }
    if (req.method === 'POST' && req.url === '/webhook') {
      const body = JSON.parse(raw) as { to?: string; text?: string };
      messages.push({ via: 'webhook', to: String(body.to), text: String(body.text), headers: req.headers, raw: body });
      return json(200, { ok: true });
    }
    json(404, { code: 20404, message: 'Not found', status: 404 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  function codeFor(to: string): string {
    const message = [...messages].reverse().find((m) => m.to === to || `+${m.to}` === to);
    const code = message && /\b(\d{6})\b/.exec(message.text)?.[1];
    if (!code) throw new Error(`no code sent to ${to}`);
    return code;
  }
  return {
    url,
    messages,
    failNext(count, status) {
      failures = { count, status };
    },
    codeFor,
    async codeTo(to, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          return codeFor(to);
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} text messages, got ${messages.length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return messages.slice(0, count);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
