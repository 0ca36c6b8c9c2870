import Mustache from 'mustache';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Clock } from '../sources';
import { DevMessageFiles } from './dev-files';
import { PermanentDeliveryError } from './errors';
import { fitsOneSegment } from './gsm7';
import { retriedHttpStatus } from './sms-provider-errors';
import type { SmsPayload } from './messages';
import { createSnsSmsTransport } from './sms-sns';
import { describingFailures, requestSignal, type SmsTransport } from './sms-transport';
import { createTwilioSmsTransport } from './sms-twilio';
import { createVonageSmsTransport } from './sms-vonage';
import type { Templates } from './templates';

export type { SmsMessage, SmsTransport } from './sms-transport';

/**
 * Maps an HTTP answer from a gateway to the outbox's retry rules: 2xx is
 * delivered, 408, 429 and 5xx are worth another try, any other 4xx will
 * fail the same way again.
 */
async function checkGatewayAnswer(response: Response, gateway: string): Promise<void> {
  if (response.ok) return;
  await response.body?.cancel();
  if (retriedHttpStatus(response.status)) throw new Error(`${gateway} answered ${response.status}`);
  throw new PermanentDeliveryError(`${gateway} refused the message (${response.status})`);
}

/** Development: each message is written to a file; the log names the file, never the code. */
export function createLogSmsTransport(dir: string, logger: Logger): SmsTransport {
  const files = new DevMessageFiles(dir);
  return {
    async send(message) {
      const base = await files.write({ txt: `To: ${message.to}\n\n${message.text}\n` });
      logger.info({ file: `${base}.txt` }, 'development SMS sender: message written (open it to read the code)');
    },
  };
}

/**
 * A generic JSON webhook: `sms.http.body` is a JSON template whose strings
 * may use `{{to}}` (digits, no `+`) and `{{text}}`; `sms.http.headers` are
 * sent as they are (put the gateway's API key there).
 */
export function createHttpSmsTransport(settings: NonNullable<Config['sms']['http']>, fetcher: typeof fetch = fetch): SmsTransport {
  const render = (value: unknown, view: Record<string, string>): unknown => {
    if (typeof value === 'string') return Mustache.render(value, view, undefined, { escape: (text: string) => text });
    if (Array.isArray(value)) return value.map((item) => render(item, view));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, render(inner, view)]));
    }
    return value;
  };
  return {
    async send(message, signal) {
      const body = render(settings.body, { to: message.to.replace(/^\+/, ''), text: message.text });
      const response = await fetcher(settings.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...settings.headers },
        body: JSON.stringify(body),
        redirect: 'error',
        signal: requestSignal(signal),
      });
      await checkGatewayAnswer(response, 'SMS gateway');
    },
  };
}

/**
 * The sender `sms.sender` names; `clock` dates the requests that are
 * signed. Its HTTP requests go through `fetcher` (`--send-test` passes one
 * that records them).
 */
export function createSmsTransport(settings: Config['sms'], logger: Logger, clock: Clock, fetcher: typeof fetch = fetch): SmsTransport {
  switch (settings.sender) {
    case 'http':
      return createHttpSmsTransport(settings.http as NonNullable<Config['sms']['http']>, describingFailures(fetcher, 'SMS gateway'));
    case 'twilio':
      return createTwilioSmsTransport(settings.twilio as NonNullable<Config['sms']['twilio']>, describingFailures(fetcher, 'Twilio'));
    case 'sns':
      return createSnsSmsTransport(settings.sns as NonNullable<Config['sms']['sns']>, clock, describingFailures(fetcher, 'Amazon SNS'));
    case 'vonage':
      return createVonageSmsTransport(settings.vonage as NonNullable<Config['sms']['vonage']>, describingFailures(fetcher, 'Vonage'));
    case 'log':
      return createLogSmsTransport(settings.devSmsDir, logger);
  }
}

export const SMS_TEMPLATE_FILES = ['sms/code.txt', 'sms/code_short.txt'];

/** Renders an outbox SMS payload and hands it to the transport. */
export class SmsSender {
  /** The host the one-time code line names, from the configured public URL, once. */
  private readonly webotpHost: string;

  constructor(
    private readonly config: {
      readonly serverName: string;
      readonly publicBaseurl: string;
      readonly email: { readonly defaultLanguage: string };
      readonly sms: { readonly appName: string; readonly webotpLine: boolean };
    },
    private readonly templates: Templates,
    private readonly transport: SmsTransport,
  ) {
    this.webotpHost = new URL(config.publicBaseurl).hostname;
  }

  send(payload: SmsPayload, signal?: AbortSignal): Promise<void> {
    const view = { app_name: this.config.sms.appName, server_name: this.config.serverName, code: payload.code };
    const language = payload.language ?? this.config.email.defaultLanguage;
    const line = this.oneTimeCodeLine(payload.code);
    const full = this.templates.render('sms/code.txt', language, view).trim() + line;
    return this.transport.send({ to: `+${payload.to}`, text: fitsOneSegment(full) ? full : this.shortText(language, view, line) }, signal);
  }

  /**
   * One segment, not two: a text that would need more goes in its short
   * form, the code alone; and when even that takes two with the one-time
   * code line (a long host), without the line, which is a convenience.
   */
  private shortText(language: string, view: Record<string, string>, line: string): string {
    const short = this.templates.render('sms/code_short.txt', language, view).trim();
    return fitsOneSegment(short + line) ? short + line : short;
  }

  /**
   * The origin-bound one-time code line (WICG sms-one-time-codes), last in
   * the text. It names a host alone: the origin it stands for is https on
   * the default port, and phones read no port in it.
   */
  private oneTimeCodeLine(code: string): string {
    return this.config.sms.webotpLine ? `\n\n@${this.webotpHost} #${code}` : '';
  }
}
