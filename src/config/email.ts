import { z } from 'zod';
import { LANGUAGE_TAG } from '../delivery/languages';
import { DKIM, toDkim } from './dkim';
import { readTlsCa } from './tls-ca';
import { displayedName, duration, keysSharing, secret, section, type Env, type Report, type Settings } from './common';
import { synapse } from './doc-marks';

/** Synapse `email:` keys about notifications of missed messages, which this module does not send. */
const SYNAPSE_NOTIFICATION_KEYS = [
  'enable_notifs',
  'notif_for_new_users',
  'notif_delay_before_mail',
  'client_base_url',
  'riot_base_url',
  'invite_client_location',
  'notif_template_html',
  'notif_template_text',
  'expiry_template_html',
  'expiry_template_text',
  // Read from `email:` by Synapse's push settings (deprecated there).
  'redact_content',
] as const;

/**
 * Synapse `email:` keys naming its Jinja templates for validation mail and
 * pages: this module's own templates are Mustache, found by their fixed names.
 */
const SYNAPSE_TEMPLATE_NAME_KEYS = [
  'registration_template_html',
  'registration_template_text',
  'registration_template_failure_html',
  'registration_template_success_html',
  'password_reset_template_html',
  'password_reset_template_text',
  'password_reset_template_failure_html',
  'password_reset_template_success_html',
  'add_threepid_template_html',
  'add_threepid_template_text',
  'add_threepid_template_failure_html',
  'add_threepid_template_success_html',
] as const;

/** Synapse `email.subjects` keys of notification emails (only email_validation and password_reset apply here). */
const SYNAPSE_NOTIFICATION_SUBJECTS = [
  'message_from_person_in_room',
  'message_from_person',
  'messages_from_person',
  'messages_in_room',
  'messages_in_room_and_others',
  'messages_from_person_and_others',
  'invite_from_person',
  'invite_from_person_to_room',
  'invite_from_person_to_space',
  'email_already_in_use',
] as const;

/** Synapse's keys that do nothing here, accepted so a pasted `email:` block works, and named at start and by `--check`. */
const unusedSynapseKey = (what: string) =>
  synapse(z.unknown().optional().describe(`Synapse's ${what}. Accepted, so that Synapse's email block can be pasted as it is, and ignored (named at start and by \`--check\`).`));

/** `email`: SMTP, the sender, and Synapse's names for the same settings. */
export const EMAIL = section(
  z
    .object({
      smtp_host: synapse(z.string().min(1).optional().describe('The SMTP server to send through. Unset: a development transport writes each message to `dev_mail_dir` instead of sending it.')),
      smtp_port: synapse(z.number().int().min(1).max(65535).optional().describe('The SMTP server\'s port. Unset: 25, or 465 with `force_tls`.')),
      smtp_user: synapse(z.string().optional().describe('The user name to log in to the SMTP server with; unset: no login.')),
      smtp_pass: synapse(z.string().optional().describe('The password that goes with `smtp_user` (required when it is set).')),
      require_transport_security: synapse(z.boolean().default(false).describe('Refuse to send unless the server offers STARTTLS: without it, a server (or a man in the middle) that offers none gets the mail, tokens included, in plain text.')),
      force_tls: synapse(z.boolean().default(false).describe('TLS from the first byte (SMTPS, usually port 465) instead of STARTTLS.')),
      notif_from: synapse(z.string().min(1).optional().describe('The sender of every email; `%(app)s` is replaced by `app_name`. Unset: `<app_name> <noreply@<server_name>>`.')),
      app_name: synapse(displayedName().default('Matrix').describe('The name shown in subjects and bodies, and in text messages unless `sms.app_name` is set.')),
      default_language: z.string().regex(LANGUAGE_TAG, 'must be a language tag such as "en", "de" or "pt-BR"').default('en')
        .describe('The language of emails, text messages and pages when the request\'s Accept-Language names none there is a catalog for (`templates/messages/<tag>.json`, shipped or in `templates_dir`).'),
      validation_token_lifetime: synapse(duration('1h').describe('How long an emailed token works.')),
      dev_mail_dir: z.string().min(1).default('data/mail').describe('Where the development transport (no `smtp_host`) writes each message, as an .eml and a readable .txt file.'),
      max_attempts: z.number().int().min(1).max(100).default(12).describe('Delivery attempts (with exponential backoff from 5 s to 30 min) before a message is given up on and logged as failed.'),
      enabled: z.boolean().default(true).describe('false: the email requestToken endpoints answer M_THREEPID_MEDIUM_NOT_SUPPORTED.'),
      enable_tls: synapse(z.boolean().default(true).describe('false: never STARTTLS, even when the server offers it.')),
      tlsname: synapse(z.string().min(1).optional().describe('The name the server\'s TLS certificate must carry. Unset: `smtp_host`.')),
      tls_ca_file: z.string().min(1).optional().describe('A file of CA certificates (PEM) trusted besides the usual ones, e.g. a private CA.'),
      tls_insecure: z.boolean().default(false).describe('true: the server\'s certificate is not checked at all (warned of at start and by `--check`). For tests only: anyone on the path can read the tokens.'),
      dkim: DKIM.describe('Signs every message (and the development files) with DKIM. The algorithm is read off the key: rsa-sha256 (at least 1024 bits) or ed25519-sha256.'),
      template_dir: synapse(z.string().min(1).optional().describe('Synapse\'s name for `templates_dir`: a folder of templates overriding the shipped ones.')),
      subjects: synapse(
        section(
          z
            .object({
              email_validation: synapse(z.string().min(1).optional().describe('The subject of registration and add-address mail; `%(app)s` and `%(server_name)s` are filled in. Unset: the subject template is used.')),
              password_reset: synapse(z.string().min(1).optional().describe('The subject of password reset mail; `%(app)s` and `%(server_name)s` are filled in. Unset: the subject template is used.')),
              ...keysSharing(SYNAPSE_NOTIFICATION_SUBJECTS, synapse(z.string().optional().describe(`Synapse's subject of a notification email: accepted, and unused here.`))),
            })
            .strict()
            .default({}),
        ).describe('Subjects of the emails, as Synapse sets them; without them, the subject templates (email/*.subject.txt) are used.'),
      ),
      ...keysSharing(SYNAPSE_NOTIFICATION_KEYS, unusedSynapseKey('setting for notification emails, which this module does not send')),
      ...keysSharing(SYNAPSE_TEMPLATE_NAME_KEYS, unusedSynapseKey('name of one of its Jinja templates; this module\'s templates are Mustache, found by their fixed names')),
    })
    .strict()
    .default({}),
);

type Email = z.output<typeof EMAIL>;

/** Synapse's `%(app)s` and `%(server_name)s` placeholders, filled in as Synapse does. */
function synapseFormat(text: string, appName: string, serverName: string): string {
  return text.replaceAll('%(app)s', appName).replaceAll('%(server_name)s', serverName);
}

function toSmtp(raw: Email, env: Env, report: Report) {
  const pass = secret('email.smtp_pass', raw.smtp_pass, env, report);
  // nodemailer refuses to log in with a user and no password before it sends
  // anything, so every message would be retried until given up on.
  if (raw.smtp_user !== undefined && pass === undefined) {
    report('email.smtp_pass', 'is required when smtp_user is set (or MATRIX_HS_THREEPID_SMTP_PASS, or its _FILE)');
  }
  if (raw.smtp_host === undefined && (raw.smtp_user !== undefined || raw.smtp_port !== undefined)) {
    report('email.smtp_host', 'is required when other smtp_* keys are set');
  }
  if (raw.require_transport_security && !raw.enable_tls) {
    report('email.enable_tls', 'is false, but require_transport_security needs TLS');
  }
  if (raw.force_tls && !raw.enable_tls) report('email.enable_tls', 'is false, but force_tls is TLS from the first byte');
  if (raw.smtp_host === undefined) return undefined;
  // Keys left out stay out (optional in the type): a host of the module may
  // hand its own SMTP settings with only what it sets.
  const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    host: raw.smtp_host,
    port: raw.smtp_port ?? (raw.force_tls ? 465 : 25),
    requireTransportSecurity: raw.require_transport_security,
    forceTls: raw.force_tls,
    ...optional('user', raw.smtp_user),
    ...optional('pass', pass),
    /** false (Synapse's `enable_tls: false`): never STARTTLS, even when offered. Default true. */
    ...optional('enableTls', raw.enable_tls),
    /** The name the server's certificate is checked against (default: `host`). */
    ...optional('tlsName', raw.tlsname),
    /** PEM certificates trusted besides the usual ones (`email.tls_ca_file`). */
    ...optional('tlsCa', raw.tls_ca_file === undefined ? undefined : readTlsCa(raw.tls_ca_file, report)),
    /** The server's certificate is not checked at all (`email.tls_insecure`). */
    ...optional('tlsInsecure', raw.tls_insecure || undefined),
  };
}

export function toEmail(raw: Email, serverName: string, env: Env, report: Report) {
  const format = (text: string | undefined) => text && synapseFormat(text, raw.app_name, serverName);
  // Synapse sends its email_validation subject for registration and for adding an address.
  const validationSubject = format(raw.subjects.email_validation);
  return {
    /** Unset: the development transport writes messages to `devMailDir`. */
    smtp: toSmtp(raw, env, report),
    /** Every message, sent or written to a development file, is signed with this key. */
    dkim: toDkim(raw.dkim, env, report),
    /** Subjects set in the config (Synapse's `email.subjects`), used instead of the subject templates. */
    subjects: {
      registration: validationSubject,
      addThreepid: validationSubject,
      passwordReset: format(raw.subjects.password_reset),
    },
    // Quoted, so a name with a comma, `<` or parentheses stays the name.
    notifFrom: format(raw.notif_from) ?? `"${raw.app_name.replace(/["\\]/g, '\\$&')}" <noreply@${serverName}>`,
    appName: raw.app_name,
    /** The language of emails, texts and pages when the request names none we have templates for. */
    defaultLanguage: raw.default_language,
    validationTokenLifetimeMs: raw.validation_token_lifetime,
    devMailDir: raw.dev_mail_dir,
    maxAttempts: raw.max_attempts,
    enabled: raw.enabled,
  };
}

export type EmailSettings = Settings<ReturnType<typeof toEmail>>;

/** Says, in one line, which of Synapse's keys were set and do nothing here. */
export function ignoredKeysNote(keys: readonly string[]): string {
  return `accepted for Synapse's sake and doing nothing here (no notification emails are sent, no Jinja template is read): ${keys.join(', ')}`;
}

/** Synapse's keys that were set and do nothing here: accepted, and named at start and by `--check`. */
export function ignoredEmailKeys(raw: Email): string[] {
  const email = raw as Record<string, unknown>;
  const subjects = raw.subjects as Record<string, unknown>;
  return [
    ...SYNAPSE_NOTIFICATION_KEYS.filter((key) => email[key] !== undefined).map((key) => `email.${key}`),
    ...SYNAPSE_TEMPLATE_NAME_KEYS.filter((key) => email[key] !== undefined).map((key) => `email.${key}`),
    ...SYNAPSE_NOTIFICATION_SUBJECTS.filter((key) => subjects[key] !== undefined).map((key) => `email.subjects.${key}`),
  ];
}
