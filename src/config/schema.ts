import { z } from 'zod';
import proxyaddr from 'proxy-addr';
import { rateLimit } from './common';
import { DATABASE } from './database';
import { synapse } from './doc-marks';
import { EMAIL } from './email';
import { ACCOUNTS, HOMESERVER, RC_PASSWORD_CHECK } from './homeserver';
import { IDENTITY_SERVER, IDENTITY_SERVICE_API } from './identity';
import { LISTENERS } from './listeners';
import { OUTBOX } from './outbox';
import { ADDRESS_POLICY, ALLOWED_LOCAL_3PIDS, DISABLE_MSISDN_REGISTRATION, ENABLE_3PID_CHANGES } from './policy';
import { BRANDING, TEMPLATES } from './presentation';
import { SMS } from './sms';

/*
 * The whole file's schema: every key, its checks, its default and its
 * description. docs/reference/configuration.md and raw-config.ts are
 * generated from it (`npm run docs:config`).
 */

const hostPattern = /^[A-Za-z0-9.-]+$/;

/** An address, a CIDR range, or one of proxy-addr's names (loopback, linklocal, uniquelocal). */
function isTrustedProxyEntry(value: string): boolean {
  try {
    proxyaddr.compile([value]);
    return true;
  } catch {
    return false;
  }
}

export const rawSchema = z
  .object({
    server_name: synapse(z.string().min(1).default('localhost').describe('The homeserver\'s name, used in emails and the default sender address.')),
    public_baseurl: synapse(
      z
        .string()
        .url()
        .default('http://localhost:8090/')
        .describe('The URL clients and email links reach this module at, through the reverse proxy; `submit_url` and emailed links are built on it. With a path, routes are served both under it and at the root.'),
    ),
    listeners: LISTENERS.describe('The sidecar\'s public (client) and internal listeners.'),
    database: DATABASE.describe('Where sessions and the outbox are stored: SQLite (one process) or PostgreSQL (replicas sharing one database).'),
    email: synapse(EMAIL.describe('Email: SMTP, the sender, the token lifetime. Synapse\'s `email:` block can be pasted as it is.')),
    templates: synapse(TEMPLATES.describe('Synapse\'s section naming the templates folder.')),
    sms: SMS.describe('Phone numbers (msisdn): the text-message sender, the countries served and the abuse limits. Codes are six digits.'),
    next_link_domain_whitelist: synapse(
      z
        .array(z.string().regex(hostPattern, 'must be a host name'))
        .nullable()
        .default(null)
        .describe('Only these hosts may be used in a client\'s `next_link`; null: any http(s) URL.'),
    ),
    request_token_inhibit_3pid_errors: synapse(
      z
        .boolean()
        .default(false)
        .describe('Answer requestToken as if all were well when the address is in use (register, add) or unknown (password reset), so nobody learns which addresses have accounts; no email is sent then.'),
    ),
    allowed_local_3pids: synapse(
      ALLOWED_LOCAL_3PIDS.describe('Who may use which address, as Synapse says it. Once the list has entries, an address no entry of its medium matches is refused (403 M_THREEPID_DENIED).'),
    ),
    disable_msisdn_registration: synapse(DISABLE_MSISDN_REGISTRATION.describe('true: `register/msisdn/requestToken` answers 400 M_THREEPID_MEDIUM_NOT_SUPPORTED.')),
    enable_3pid_changes: synapse(
      ENABLE_3PID_CHANGES.describe('false: `/account/3pid/add` and `/delete` answer 400 M_FORBIDDEN, and the `/account/3pid` requestToken endpoints send nothing.'),
    ),
    address_policy: ADDRESS_POLICY.describe('The email rules Synapse lacks: allowed and banned domains and addresses, disposable domains, and the requests each rule applies to. Domains are compared in their IDNA (ASCII) form.'),
    rc_3pid_validation: synapse(rateLimit(0.003, 5).describe('Rate limit of requestToken, per client IP and per address (token bucket).')),
    rc_password_check: RC_PASSWORD_CHECK.describe('Password checks of `POST /account/3pid/add`, spent before the password leaves the module; over either bucket: 429 M_LIMIT_EXCEEDED. Replicas sharing PostgreSQL share the buckets.'),
    trusted_proxies: z
      .array(
        z
          .string()
          .min(1)
          .refine(isTrustedProxyEntry, 'must be an IP address, a CIDR range, or loopback, linklocal or uniquelocal'),
      )
      .default([])
      .describe('Proxies whose X-Forwarded-For is believed when finding the client IP: addresses, CIDR ranges, or loopback, linklocal, uniquelocal. Empty: the socket peer.'),
    homeserver: HOMESERVER.describe('The homeserver: its URL, and how it and the sidecar trust each other (the internal API\'s JWTs).'),
    templates_dir: z
      .string()
      .min(1)
      .optional()
      .describe('A folder overriding the shipped templates: `messages/<lang>.json` replaces single strings of one language (or adds a language); `email/…`, `pages/…`, `sms/code.txt` replace a whole layout, `<lang>/email/…` for one language only. Missing files fall back to the shipped ones.'),
    branding: BRANDING.describe('The operator\'s brand, on the pages a link opens and in HTML emails.'),
    outbox: OUTBOX.describe('The outbox worker that sends emails and texts (every replica runs one), and the keys that seal its messages at rest.'),
    accounts: ACCOUNTS.describe('What the account 3PID endpoints ask for.'),
    identity_server: IDENTITY_SERVER.describe('Identity-server proxy mode (MSC2140): a requestToken naming a trusted `id_server` is forwarded there.'),
    identity_service_api: IDENTITY_SERVICE_API.describe('The identity-service v1 validation API on the internal listener, for homeservers that delegate 3PID validation (Synapse\'s `account_threepid_delegates.msisdn`, Dendrite). Answers only `allowed_callers`.'),
  })
  .strict();

/** What the file (or a host's object) may hold, as zod reads the schema. */
export type RawInput = z.input<typeof rawSchema>;
