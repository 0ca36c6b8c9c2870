import { SendDeadlineError } from './errors';

/**
 * Runs `send` under a deadline. Past it the send is told to abort, and its
 * own answer is taken: a busy process may run the deadline's timer before
 * the answer of a send that did end (the SMTP thread's "sent", already
 * posted), and deciding alone there would retry, so send twice, a message
 * the server took. A send that has not answered `graceMs` after the abort
 * fails as a temporary error all the same, so that no send outlives its
 * lease.
 */
export async function sendWithinDeadline(send: (signal: AbortSignal) => Promise<void>, deadlineMs: number, graceMs: number): Promise<void> {
  const controller = new AbortController();
  let deadline: NodeJS.Timeout | undefined;
  let grace: NodeJS.Timeout | undefined;
  const unanswered = new Promise<never>((_resolve, reject) => {
    deadline = setTimeout(() => {
      // Made only when the deadline passes: an error's stack trace cost a
      // few per cent of the outbox's CPU when made for every send.
      const err = new SendDeadlineError(deadlineMs);
      controller.abort(err);
      grace = setTimeout(() => reject(err), graceMs);
      grace.unref();
    }, deadlineMs);
    // The send's own connection keeps the process up while it is needed.
    deadline.unref();
  });
  try {
    await Promise.race([send(controller.signal), unanswered]);
  } finally {
    clearTimeout(deadline);
    clearTimeout(grace);
  }
}

/** How long a send told to abort has to answer: a short while, and well inside the lease. */
export function abortGraceMs(leaseMs: number, deadlineMs: number): number {
  return Math.min(5_000, (leaseMs - deadlineMs) / 2);
}
