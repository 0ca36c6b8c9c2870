/**
 * Synapse's `email:` block pasted as it is failed `--check`:
 * `email.subjects: unknown key(s) messages_in_room_and_others`, and the keys
 * naming Synapse's Jinja templates were refused too. Every key Synapse 1.67
 * reads from `email:` (and from `email.subjects`) is now accepted; those that
 * do nothing here are named in one line, at start and by `--check`; and
 * Synapse's templates found in the templates folder are reported as not
 * used, with the reason.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config';
import { CapturingLogger, removeDir, startModule, tempDir } from '../support/harness';

const CLI = path.resolve(__dirname, '../../dist/cli.js');

/** Synapse 1.67's email block with every key it reads set; TEMPLATE_DIR is filled in per test. */
const SYNAPSE_EMAIL_BLOCK = `
email:
  smtp_host: mail.example.org
  smtp_port: 587
  smtp_user: matrix
  smtp_pass: hunter22
  force_tls: false
  require_transport_security: true
  enable_tls: true
  notif_from: "%(app)s homeserver <noreply@example.org>"
  app_name: Example Chat
  enable_notifs: true
  notif_for_new_users: false
  client_base_url: https://chat.example.org
  riot_base_url: https://riot.example.org
  validation_token_lifetime: 15m
  invite_client_location: https://app.example.org
  template_dir: TEMPLATE_DIR
  password_reset_template_html: password_reset.html
  password_reset_template_text: password_reset.txt
  registration_template_html: registration.html
  registration_template_text: registration.txt
  add_threepid_template_html: add_threepid.html
  add_threepid_template_text: add_threepid.txt
  password_reset_template_failure_html: password_reset_failure.html
  registration_template_failure_html: registration_failure.html
  add_threepid_template_failure_html: add_threepid_failure.html
  password_reset_template_success_html: password_reset_success.html
  registration_template_success_html: registration_success.html
  add_threepid_template_success_html: add_threepid_success.html
  notif_template_html: notif_mail.html
  notif_template_text: notif_mail.txt
  expiry_template_html: notice_expiry.html
  expiry_template_text: notice_expiry.txt
  redact_content: false
  subjects:
    message_from_person_in_room: "[%(app)s] A message from %(person)s in %(room)s"
    message_from_person: "[%(app)s] A message from %(person)s"
    messages_from_person: "[%(app)s] Messages from %(person)s"
    messages_in_room: "[%(app)s] Messages in %(room)s"
    messages_in_room_and_others: "[%(app)s] Messages in %(room)s and others"
    messages_from_person_and_others: "[%(app)s] Messages from %(person)s and others"
    invite_from_person: "[%(app)s] %(person)s invited you"
    invite_from_person_to_room: "[%(app)s] %(person)s invited you to %(room)s"
    invite_from_person_to_space: "[%(app)s] %(person)s invited you to %(space)s"
    password_reset: "[%(server_name)s] Password reset"
    email_validation: "[%(server_name)s] Validate your email"
`;

const DOING_NOTHING = [
  'email.enable_notifs',
  'email.notif_for_new_users',
  'email.client_base_url',
  'email.riot_base_url',
  'email.invite_client_location',
  'email.notif_template_html',
  'email.notif_template_text',
  'email.expiry_template_html',
  'email.expiry_template_text',
  'email.redact_content',
  ...['registration', 'password_reset', 'add_threepid'].flatMap((flow) =>
    ['html', 'text', 'failure_html', 'success_html'].map((kind) => `email.${flow}_template_${kind}`),
  ),
  ...[
    'message_from_person_in_room',
    'message_from_person',
    'messages_from_person',
    'messages_in_room',
    'messages_in_room_and_others',
    'messages_from_person_and_others',
    'invite_from_person',
    'invite_from_person_to_room',
    'invite_from_person_to_space',
  ].map((key) => `email.subjects.${key}`),
];

let dir: string;
let templateDir: string;
beforeEach(() => {
  dir = tempDir();
  templateDir = path.join(dir, 'synapse-templates');
  mkdirSync(templateDir);
  // A Synapse template folder, as an operator has it: Jinja, flat.
  for (const file of ['registration.html', 'registration_failure.html', 'notif_mail.html', 'mail.css']) {
    writeFileSync(path.join(templateDir, file), '{% extends "_base.html" %}{{ link | e }}');
  }
});
afterEach(() => removeDir(dir));

function synapseConfig(): Record<string, unknown> {
  const email = (parseYaml(SYNAPSE_EMAIL_BLOCK.replace('TEMPLATE_DIR', templateDir)) as { email: Record<string, unknown> }).email;
  return { server_name: 'example.org', database: { path: path.join(dir, 'threepid.sqlite') }, email };
}

function check(): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, `server_name: example.org\ndatabase:\n  path: ${path.join(dir, 'threepid.sqlite')}\n${SYNAPSE_EMAIL_BLOCK.replace('TEMPLATE_DIR', templateDir)}`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MATRIX_HS_THREEPID_')));
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, '--check', '--config', file], { cwd: dir, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    ),
  );
}

it('parses cleanly, with the keys that do something honoured and the others listed', () => {
  const config = parseConfig(synapseConfig());
  expect(config.email.smtp).toMatchObject({ host: 'mail.example.org', port: 587, requireTransportSecurity: true });
  expect(config.email.subjects.registration).toBe('[example.org] Validate your email');
  expect(config.templatesDir).toBe(templateDir);
  expect([...config.ignoredKeys].sort()).toEqual([...DOING_NOTHING].sort());
});

it('--check exits 0 and names every key that does nothing in one line', async () => {
  const { code, stdout, stderr } = await check();
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const lines = stdout.split('\n').filter((line) => line.includes("accepted for Synapse's sake"));
  expect(lines).toHaveLength(1);
  for (const key of DOING_NOTHING) expect(lines[0]).toMatch(new RegExp(`[: ]${key.replaceAll('.', '\\.')}(,|$)`));
});

it("--check says which of Synapse's templates in the folder are used (none) and why the others are not", async () => {
  const { stdout } = await check();
  expect(stdout).toContain(
    `templates: Synapse templates in ${templateDir} used: none; not used: registration.html (the module's: email/registration.html), ` +
      "registration_failure.html (the module's: pages/failure.html): Jinja templates are not read; the module's own templates are Mustache under templates/email/",
  );
  expect(stdout).toContain(`templates: Synapse templates in ${templateDir} not used: mail.css, notif_mail.html: this module sends no notification or expiry emails`);
});

it('the start log names the keys in one line and reports the templates the same way', async () => {
  const logger = new CapturingLogger();
  const hs = await startModule(synapseConfig() as unknown as Parameters<typeof startModule>[0], { logger });
  await hs.close();
  const messages = logger.lines.map((line) => line.message ?? '');
  const keysLines = messages.filter((message) => message.includes("accepted for Synapse's sake"));
  expect(keysLines).toHaveLength(1);
  for (const key of DOING_NOTHING) expect(keysLines[0]).toContain(key);
  expect(messages).toContainEqual(expect.stringMatching(/^templates: Synapse templates in .* used: none; not used: registration\.html/));
  expect(messages).toContainEqual(expect.stringMatching(/^templates: Synapse templates in .* not used: mail\.css, notif_mail\.html/));
});
