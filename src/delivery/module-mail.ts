import type { Config } from '../config';
import { dkimAlignmentWarning } from '../config/dkim';
import type { BackgroundThread } from '../background-thread';
import type { Logger } from '../logger';
import type { MailTransport } from './mail-transport';
import { ThreadedMailTransport } from './smtp-thread';

type MailTransportCode = typeof import('./mail-transport');

/**
 * nodemailer, its MIME and DKIM code: loaded when the first message is
 * sent (some 40 ms of a start measured at ~300 ms), since the first
 * request never needs them.
 */
function mailTransportCode(): MailTransportCode {
  return require('./mail-transport') as MailTransportCode;
}

/** A transport made by `create` when the first message is sent. */
function madeOnFirstSend(create: (code: MailTransportCode) => MailTransport): MailTransport {
  let transport: MailTransport | undefined;
  return {
    send: (message, signal) => (transport ??= create(mailTransportCode())).send(message, signal),
    close: () => transport?.close(),
  };
}

/**
 * The module's mail transport: SMTP on the background thread (`thread`,
 * shared with the WAL checkpoints), SMTP on this thread when the thread's
 * file is missing, or files in the development folder; after the start's
 * warnings about the settings.
 */
export function moduleMailTransport(config: Config, logger: Logger, thread: BackgroundThread | undefined): MailTransport {
  const { smtp: smtpSettings, dkim } = config.email;
  if (smtpSettings?.tlsInsecure) logger.warn({}, mailTransportCode().TLS_INSECURE_WARNING);
  const unaligned = dkimAlignmentWarning(dkim, config.email.notifFrom);
  if (unaligned) logger.warn({}, unaligned);
  const smtp = smtpSettings && { ...smtpSettings, dkim };
  if (!smtp) return madeOnFirstSend((code) => code.createFileTransport(config.email.devMailDir, logger, dkim));
  return (thread && ThreadedMailTransport.create(smtp, logger, thread)) ?? madeOnFirstSend((code) => code.createSmtpTransport(smtp));
}
