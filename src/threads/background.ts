/**
 * Entry file of the module's background thread (see `background-thread.ts`).
 * Shipped as `dist/threads/background.js`; a Worker is started from this
 * file only. SMTP's code (nodemailer) is loaded on the thread when the
 * first message is sent, not before.
 */
import { serveJobs } from '../background-thread';
import { runSmtpJob } from '../delivery/smtp-thread';
import { runCheckpointJob } from '../store/wal-checkpoint-job';

serveJobs({ checkpoint: runCheckpointJob, smtp: runSmtpJob });
