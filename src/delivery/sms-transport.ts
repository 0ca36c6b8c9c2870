/** One text message, ready to go: `to` in E.164 with the `+`. */
export interface SmsMessage {
  readonly to: string;
  readonly text: string;
}

/**
 * The port every SMS provider sits behind. Throw {@link PermanentDeliveryError}
 * for failures not worth retrying. `signal` aborts when the outbox's send
 * deadline passes: drop the request then.
 */
export interface SmsTransport {
  send(message: SmsMessage, signal?: AbortSignal): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 15_000;
/** A provider's answer is a few hundred bytes; more is not an answer worth reading. */
const ANSWER_LIMIT_BYTES = 64 * 1024;

/**
 * The request's own timeout, and the outbox's deadline when there is one.
 * Not AbortSignal.any: it holds its sources weakly, and once a garbage
 * collection has taken the timeout signal (nothing else holds it) the
 * timeout never fires. A listener keeps a timeout signal alive.
 */
export function requestSignal(signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  if (!signal) return timeout;
  const either = new AbortController();
  for (const source of [timeout, signal]) {
    if (source.aborted) either.abort(source.reason);
    else source.addEventListener('abort', () => either.abort(source.reason), { once: true });
  }
  return either.signal;
}

/** The answer's body as text, cut at {@link ANSWER_LIMIT_BYTES}. */
export async function readAnswer(response: Response): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    // Leaving the loop cancels the rest of the body.
    if (size >= ANSWER_LIMIT_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, ANSWER_LIMIT_BYTES).toString('utf8');
}

/** The answer's body as JSON, or undefined when it is not JSON. */
export async function readJsonAnswer(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await readAnswer(response)) as unknown;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** What a failed connection's `cause.code` means, in the words an operator looks for. */
const CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the answer',
  UND_ERR_SOCKET: 'connection closed',
  ENOTFOUND: 'DNS: no such host',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
};

/**
 * The cause of a request that got no answer: its code and meaning, never
 * its message, which names the address (or, for a URL fetch will not take,
 * quotes it whole, credentials and all: only the words before the colon).
 */
function causeOf(err: Error): string {
  if (err.name === 'TimeoutError') return `timed out (no answer within ${REQUEST_TIMEOUT_MS / 1000} s)`;
  if (err.cause === undefined) return `request not made: ${err.message.split(':')[0].slice(0, 120)}`;
  const cause = err.cause as { code?: unknown; message?: unknown } | null;
  if (cause?.message === 'unexpected redirect') return 'redirected (redirects are not followed)';
  const code = cause?.code;
  if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code)) return 'unknown cause';
  const known = CAUSES[code];
  if (known) return `${known} (${code})`;
  if (/CERT|TLS|SSL|SIGNATURE/.test(code)) return `TLS: ${code}`;
  return code;
}

/**
 * `fetcher`, with its failures to get an answer described by their cause
 * (fetch says only "fetch failed"), as a plain, retried Error naming
 * `gateway` and the cause: never the URL, its query or credentials, the
 * number or the text. The outbox's own deadline passes through as it is.
 */
export function describingFailures(fetcher: typeof fetch, gateway: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetcher(input, init);
    } catch (err) {
      // fetch's errors come from another realm than the caller's (a DOMException, undici's TypeError): go by name.
      const failure = err as Error;
      if (failure?.name !== 'TimeoutError' && failure?.name !== 'TypeError') throw err;
      throw new Error(`${gateway} not reached: ${causeOf(failure)}`);
    }
  };
}
