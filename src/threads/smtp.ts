/**
 * Entry file of the SMTP thread (see `delivery/smtp-thread.ts`). Shipped as
 * `dist/threads/smtp.js`; a Worker is started from this file only.
 */
import { runSmtpThread } from '../delivery/smtp-thread';

runSmtpThread();
