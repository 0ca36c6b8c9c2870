import { SendDeadlineError } from '../../../src/delivery/errors';
import { createHttpSmsTransport } from '../../../src/delivery/sms-senders';
import { createTwilioSmsTransport } from '../../../src/delivery/sms-twilio';
import { eventually, startSilentServer } from '../../support/e2e-utils';

/** A gateway that takes the request and never answers: the outbox's deadline ends the send. */
describe.each(['webhook', 'twilio'] as const)('an SMS gateway that never answers (%s)', (kind) => {
  it('is given up on when the send deadline passes, with the deadline as the reason', async () => {
    const silent = await startSilentServer();
    const url = `http://127.0.0.1:${silent.port}`;
    const transport =
      kind === 'webhook'
        ? createHttpSmsTransport({ url: `${url}/send`, headers: {}, body: { to: '{{to}}', text: '{{text}}' } })
        : createTwilioSmsTransport({ accountSid: 'AC1', authToken: 'token', from: '+15005550006', messagingServiceSid: undefined, baseUrl: url });
    const deadline = new AbortController();
    try {
      const sending = transport.send({ to: '+33612345678', text: 'Your code is 123456' }, deadline.signal);
      await eventually(() => silent.connections === 1, 'the request to reach the gateway');
      deadline.abort(new SendDeadlineError(1_000));
      await expect(sending).rejects.toBeInstanceOf(SendDeadlineError);
    } finally {
      await silent.destroy();
    }
  });
});
