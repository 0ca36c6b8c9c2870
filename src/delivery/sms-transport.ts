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
