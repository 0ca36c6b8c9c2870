import { z } from 'zod';
import { LANGUAGE_TAG } from '../delivery/languages';
import { DKIM, toDkim } from './dkim';
import { readTlsCa } from './tls-ca';
import { duration, optionalKeys, secret, section, type Env, type Report, type Settings } from './common';

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

/** `email`: SMTP, the sender, and Synapse's names for the same settings. */
export const EMAIL = section(
  z
    .object({
      smtp_host: z.string().min(1).optional(),
      smtp_port: z.number().int().min(1).max(65535).optional(),
      smtp_user: z.string().optional(),
      smtp_pass: z.string().optional(),
      require_transport_security: z.boolean().default(false),
      force_tls: z.boolean().default(false),
      notif_from: z.string().min(1).optional(),
      app_name: z.string().min(1).default('Matrix'),
      default_language: z.string().regex(LANGUAGE_TAG, 'must be a language tag such as "en", "de" or "pt-BR"').default('en'),
      validation_token_lifetime: duration('1h'),
      dev_mail_dir: z.string().min(1).default('data/mail'),
      max_attempts: z.number().int().min(1).max(100).default(12),
      enabled: z.boolean().default(true),
      // Synapse's names for what this module does too.
      enable_tls: z.boolean().default(true),
      tlsname: z.string().min(1).optional(),
      tls_ca_file: z.string().min(1).optional(),
      tls_insecure: z.boolean().default(false),
      dkim: DKIM,
      template_dir: z.string().min(1).optional(),
      subjects: section(
        z
          .object({
            email_validation: z.string().min(1).optional(),
            password_reset: z.string().min(1).optional(),
            ...optionalKeys(SYNAPSE_NOTIFICATION_SUBJECTS, z.string()),
          })
          .strict()
          .default({}),
      ),
      // Synapse's notification keys: accepted (a pasted `email:` block
      // works) and reported as doing nothing here.
      ...optionalKeys(SYNAPSE_NOTIFICATION_KEYS, z.unknown()),
      ...optionalKeys(SYNAPSE_TEMPLATE_NAME_KEYS, z.unknown()),
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
    notifFrom: format(raw.notif_from) ?? `${raw.app_name} <noreply@${serverName}>`,
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
