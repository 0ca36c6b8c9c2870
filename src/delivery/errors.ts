/** A failure that will fail the same way every time: do not retry. */
export class PermanentDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

/**
 * A send that had not ended by its deadline (`outbox.send_timeout`): a
 * temporary failure, retried with backoff. The sender was told to drop its
 * connection.
 */
export class SendDeadlineError extends Error {
  constructor(readonly deadlineMs: number) {
    super(`send did not end within ${deadlineMs} ms`);
    this.name = 'SendDeadlineError';
  }
}
