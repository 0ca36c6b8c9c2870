import { SendDeadlineError } from '../../../src/delivery/errors';
import { createHttpSmsTransport } from '../../../src/delivery/sms-senders';
import { createSnsSmsTransport } from '../../../src/delivery/sms-sns';
import type { SmsTransport } from '../../../src/delivery/sms-transport';
import { createTwilioSmsTransport } from '../../../src/delivery/sms-twilio';
import { createVonageSmsTransport } from '../../../src/delivery/sms-vonage';
import { systemClock } from '../../../src/sources';
import { eventually, startSilentServer } from '../../support/e2e-utils';

/** A gateway that takes the request and never answers: the outbox's deadline ends the send. */
const TRANSPORTS: Record<string, (url: string) => SmsTransport> = {
  webhook: (url) => createHttpSmsTransport({ url: `${url}/send`, headers: {}, body: { to: '{{to}}', text: '{{text}}' } }),
  twilio: (url) => createTwilioSmsTransport({ accountSid: 'AC1', authToken: 'token', from: '+15005550006', messagingServiceSid: undefined, baseUrl: url }),
  sns: (url) =>
    createSnsSmsTransport(
      { region: 'eu-west-1', accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: undefined, senderId: undefined, endpoint: url },
      systemClock,
    ),
  vonage: (url) => createVonageSmsTransport({ apiKey: 'key', apiSecret: 'secret', from: 'ExampleHS', baseUrl: url }),
};

describe.each(Object.keys(TRANSPORTS))('an SMS gateway that never answers (%s)', (kind) => {
  it('is given up on when the send deadline passes, with the deadline as the reason', async () => {
    const silent = await startSilentServer();
    const url = `http://127.0.0.1:${silent.port}`;
    const transport = TRANSPORTS[kind](url);
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
