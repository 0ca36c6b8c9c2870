import path from 'node:path';
import type { Config } from '../config';
import { createSmsTransport } from '../delivery/sms-senders';
import type { Logger } from '../logger';
import { processMonotonicClock, systemClock } from '../sources';
import { sendTestSms, TEST_CODE } from './messages';
import type { SendTestOutput } from './output';

/** The URL as printed: no user or password, and no query value (some gateways take their key there). */
function shownUrl(url: URL): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  const names = [...new Set(shown.searchParams.keys())];
  shown.search = '';
  return names.length ? `${shown.href}?${names.map((name) => `${encodeURIComponent(name)}=<hidden>`).join('&')}` : shown.href;
}

/**
 * A fetch that prints each request line, and each answer's status and body
 * with the number and the code taken out; the provider reads the same answer.
 */
function recordingFetch(msisdn: string, out: SendTestOutput): typeof fetch {
  // Whole tokens only: a message SID full of zeros keeps its digits.
  const number = new RegExp(`(?<![0-9])\\+?${msisdn}(?![0-9])`, 'g');
  const code = new RegExp(`(?<![0-9A-Za-z])${TEST_CODE}(?![0-9A-Za-z])`, 'g');
  const hideAddressAndCode = (text: string) => text.replace(number, '<number>').replace(code, '<code>');
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    out.line(`request: ${method} ${shownUrl(new URL(url))}`);
    const response = await fetch(input, init);
    const body = await response.text();
    out.line(`answer: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    if (body) out.line(`answer body: ${hideAddressAndCode(body)}`);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** `--send-test sms NUMBER`: one real text, through the configured sender. `msisdn` is E.164 without the `+`. */
export async function smsSendTest(config: Config, msisdn: string, out: SendTestOutput): Promise<boolean> {
  const { sender } = config.sms;
  out.line(`send test: the code text (code ${TEST_CODE}) to +${msisdn}, through sms.sender "${sender}"`);
  if (!config.sms.enabled) out.line('sms: warning: sms.enabled is false: the module sends no text; this test sends one anyway');
  if (sender === 'log') {
    out.line(`sms: sms.sender is "log": the module writes each text to a file in ${path.resolve(config.sms.devSmsDir)} instead (development only)`);
  }
  const logger: Logger = { debug() {}, info: (fields) => out.line(`file: ${(fields as { file?: string }).file ?? '(unnamed)'}`), warn() {}, error() {} };
  const transport = createSmsTransport(config.sms, logger, systemClock, recordingFetch(msisdn, out));
  const started = processMonotonicClock.monotonicNow();
  try {
    await sendTestSms(config, msisdn, transport);
    out.line(sender === 'log' ? 'result: written (no message left this machine)' : 'result: the provider accepted the message');
    return true;
  } catch (err) {
    out.problem(`result: not sent: ${(err as Error).message}`);
    return false;
  } finally {
    out.line(`time: ${Math.round(processMonotonicClock.monotonicNow() - started)} ms`);
  }
}
