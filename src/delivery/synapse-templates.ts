import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Synapse's templates for validation mail and its pages (names as in
 * Synapse's res/templates), and the module's template that does the same
 * job. Synapse reads them flat from its template folder; the module never
 * does: they are Jinja, and its own are Mustache layouts under `email/`
 * and `pages/`, with their words in the message catalogs.
 */
const SYNAPSE_COUNTERPARTS: Readonly<Record<string, string>> = {
  'registration.html': 'email/registration.html',
  'registration.txt': 'email/registration.txt',
  'password_reset.html': 'email/password_reset.html',
  'password_reset.txt': 'email/password_reset.txt',
  'add_threepid.html': 'email/add_threepid.html',
  'add_threepid.txt': 'email/add_threepid.txt',
  'password_reset_confirmation.html': 'pages/password_reset_confirm.html',
  'registration_success.html': 'pages/registration_success.html',
  'password_reset_success.html': 'pages/password_reset_success.html',
  'add_threepid_success.html': 'pages/add_threepid_success.html',
  'registration_failure.html': 'pages/failure.html',
  'password_reset_failure.html': 'pages/failure.html',
  'add_threepid_failure.html': 'pages/failure.html',
};

/** Synapse's templates for mail this module never sends (missed messages, account expiry) and their styles. */
const SYNAPSE_NOTIFICATION_TEMPLATES = new Set([
  'notif_mail.html',
  'notif_mail.txt',
  'notif.html',
  'notif.txt',
  'room.html',
  'room.txt',
  'notice_expiry.html',
  'notice_expiry.txt',
  'mail.css',
  'mail-Element.css',
  'mail-Vector.css',
  'mail-expiry.css',
]);

/**
 * What the module makes of Synapse's templates in the operator's templates
 * folder, one line per kind, for `--check` and the start log; none when the
 * folder holds none of them.
 */
export function synapseTemplateNotes(dir: string | undefined): string[] {
  if (dir === undefined || !existsSync(dir)) return [];
  const files = readdirSync(dir).sort();
  const replaced = files.filter((file) => Object.hasOwn(SYNAPSE_COUNTERPARTS, file));
  const notifications = files.filter((file) => SYNAPSE_NOTIFICATION_TEMPLATES.has(file));
  const notes: string[] = [];
  if (replaced.length > 0) {
    const pairs = replaced.map((file) => `${file} (the module's: ${SYNAPSE_COUNTERPARTS[file]})`).join(', ');
    notes.push(
      `Synapse templates in ${dir} used: none; not used: ${pairs}: Jinja templates are not read; ` +
        `the module's own templates are Mustache under templates/email/ and templates/pages/, their words in templates/messages/<lang>.json; ` +
        `a copy rewritten in Mustache at ${dir}/email/… or …/pages/… (or ${path.join(dir, '<lang>')}/… for one language) replaces one, ` +
        `and ${path.join(dir, 'messages', '<lang>.json')} replaces single strings`,
    );
  }
  if (notifications.length > 0) {
    notes.push(`Synapse templates in ${dir} not used: ${notifications.join(', ')}: this module sends no notification or expiry emails`);
  }
  return notes;
}
