import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SNS_ACCESS_KEY_ID,
  SNS_REGION,
  SNS_SECRET_ACCESS_KEY,
  VONAGE_API_KEY,
  VONAGE_API_SECRET,
  snsPublish,
  vonageSms,
  type Accepted,
  type Reply,
} from './sms-provider-stand-ins';

export interface GatewayMessage {
  via: 'twilio' | 'webhook' | 'sns' | 'vonage';
  to: string;
  /** As the handset shows it. */
  text: string;
  from?: string;
  messagingServiceSid?: string;
  /** SNS's message attributes, by name. */
  attributes?: Record<string, string>;
  /** Vonage's `type`. */
  type?: string;
  headers: IncomingMessage['headers'];
  raw: unknown;
}

export interface SmsGateway {
  url: string;
  messages: GatewayMessage[];
  /**
   * Answer the next `count` requests with this status (503: outage, 400:
   * refusal) and, when given, this provider error code, each in the shape of
   * the API asked (for Vonage, a code is a refusal in a 200 answer).
   */
  failNext(count: number, status: number, code?: string): void;
  /** The six-digit code in the last message to `to` (E.164 with `+`). */
  codeFor(to: string): string;
  /** The code in the latest text to `to`, once one has arrived (fails after `timeoutMs`). */
  codeTo(to: string, timeoutMs?: number): Promise<string>;
  waitFor(count: number, timeoutMs?: number): Promise<GatewayMessage[]>;
  /** Requests the gateway answered, refused ones included. */
  readonly requests: number;
  close(): Promise<void>;
}

export const TWILIO_ACCOUNT_SID = 'AC00000000000000000000000000000001';
export const TWILIO_AUTH_TOKEN = 'test-auth-token';

/** Rate limits no test reaches by accident. */
const HIGH_LIMIT = { per_second: 1000, burst_count: 1000 };
const HIGH_LIMITS = { rc_per_number: HIGH_LIMIT, rc_per_prefix: HIGH_LIMIT, rc_per_ip: HIGH_LIMIT };

/** The module's `sms` config for sending through this gateway's Twilio endpoint, with limits out of the way. */
export function twilioSmsConfig(gatewayUrl: string, twilio: Record<string, unknown> = {}) {
  return {
    sender: 'twilio' as const,
    twilio: { account_sid: TWILIO_ACCOUNT_SID, auth_token: TWILIO_AUTH_TOKEN, from: '+15005550006', base_url: gatewayUrl, ...twilio },
    ...HIGH_LIMITS,
  };
}

/** The same for the gateway's Amazon SNS endpoint. */
export function snsSmsConfig(gatewayUrl: string, sns: Record<string, unknown> = {}) {
  return {
    sender: 'sns' as const,
    twilio: undefined,
    sns: { region: SNS_REGION, access_key_id: SNS_ACCESS_KEY_ID, secret_access_key: SNS_SECRET_ACCESS_KEY, endpoint: gatewayUrl, ...sns },
    ...HIGH_LIMITS,
  };
}

/** The same for the gateway's Vonage endpoint. */
export function vonageSmsConfig(gatewayUrl: string, vonage: Record<string, unknown> = {}) {
  return {
    sender: 'vonage' as const,
    twilio: undefined,
    vonage: { api_key: VONAGE_API_KEY, api_secret: VONAGE_API_SECRET, from: 'ExampleHS', base_url: gatewayUrl, ...vonage },
    ...HIGH_LIMITS,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const json = (status: number, body: unknown): Reply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

/** Twilio's own words for the codes the tests use; like Twilio, they quote the number. */
function twilioWords(code: number, to: string): string {
  if (code === 21211) return `The 'To' number ${to} is not a valid phone number.`;
  if (code === 21610) return 'Attempt to send to unsubscribed recipient';
  if (code === 20429) return 'Too Many Requests';
  return 'Gateway failure for the test';
}

/** Twilio's Messages endpoint: Basic auth, form body, 201 with the message resource or `{code, message, status}`. */
function twilioMessages(req: IncomingMessage, accountSid: string, raw: string, count: number): Reply | Accepted {
  const expected = `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`;
  if (accountSid !== TWILIO_ACCOUNT_SID || req.headers.authorization !== expected) {
    return json(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
  }
  const form = new URLSearchParams(raw);
  const to = form.get('To') ?? '';
  const from = form.get('From') ?? undefined;
  const messagingServiceSid = form.get('MessagingServiceSid') ?? undefined;
  if (!from && !messagingServiceSid) return json(400, { code: 21603, message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message", status: 400 });
  if (messagingServiceSid !== undefined && !/^MG[0-9a-f]{32}$/.test(messagingServiceSid)) return json(400, { code: 21701, message: 'The Messaging Service Sid is invalid', status: 400 });
  if (!/^\+\d{8,15}$/.test(to)) return json(400, { code: 21211, message: twilioWords(21211, to), status: 400 });
  if (!form.get('Body')) return json(400, { code: 21602, message: 'Message body is required.', status: 400 });
  return {
    message: { via: 'twilio', to, text: form.get('Body')!, from, messagingServiceSid, headers: req.headers, raw },
    ok: json(201, {
      sid: `SM${(count + 1).toString().padStart(32, '0')}`,
      account_sid: TWILIO_ACCOUNT_SID,
      to,
      from: from ?? null,
      messaging_service_sid: messagingServiceSid ?? null,
      body: form.get('Body'),
      status: messagingServiceSid ? 'accepted' : 'queued',
      num_segments: '1',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      error_code: null,
      error_message: null,
    }),
    fail: (status, code = status >= 500 ? '20500' : status === 429 ? '20429' : '21211') =>
      json(status, { code: Number(code), message: twilioWords(Number(code), to), status }),
  };
}

/**
 * A local SMS gateway: Twilio's Messages endpoint
 * (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`), Amazon SNS's
 * Publish (`POST /`, SigV4-signed), Vonage's SMS API (`POST /sms/json`) and
 * a generic JSON webhook at `/webhook`. `now` is the clock SNS's signature
 * dates are held to.
 */
export async function startSmsGateway(options: { now?: () => number } = {}): Promise<SmsGateway> {
  const now = options.now ?? Date.now;
  const messages: GatewayMessage[] = [];
  let requests = 0;
  let failures: { count: number; status: number; code?: string } = { count: 0, status: 0 };
  const route = (req: IncomingMessage, body: Buffer): Reply | Accepted => {
    const twilio = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
    if (req.method === 'POST' && twilio) return twilioMessages(req, twilio[1], body.toString('utf8'), messages.length);
    if (req.method === 'POST' && req.url === '/') return snsPublish(req, body, now);
    if (req.method === 'POST' && req.url === '/sms/json') return vonageSms(req, body);
    if (req.method === 'POST' && req.url === '/webhook') {
      const parsed = JSON.parse(body.toString('utf8')) as { to?: string; text?: string };
      return {
        message: { via: 'webhook', to: String(parsed.to), text: String(parsed.text), headers: req.headers, raw: parsed },
        ok: json(200, { ok: true }),
        fail: (status) => json(status, { code: 20500, message: 'Gateway failure for the test', status }),
      };
    }
    return json(404, { code: 20404, message: 'Not found', status: 404 });
  };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests += 1;
    const answer = route(req, body);
    let reply: Reply;
    if ('message' in answer) {
      if (failures.count > 0) {
        failures.count -= 1;
        reply = answer.fail(failures.status, failures.code);
      } else {
        messages.push(answer.message);
        reply = answer.ok;
      }
    } else {
      reply = answer;
    }
    res.writeHead(reply.status, { 'content-type': reply.contentType }).end(reply.body);
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
    failNext(count, status, code) {
      failures = { count, status, code };
    },
    get requests() {
      return requests;
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
