import { parseArgs } from 'node:util';
import { SECRET_ENV } from './config/common';
import { canonicaliseEmail } from './threepid/email';
import { parsePhoneNumber } from './threepid/msisdn';

/** What `matrix-hs-threepid --help` prints, and what a wrong argument is answered with. */
export const USAGE = `Usage: matrix-hs-threepid [--config FILE | --config=FILE] [--check] [--help] [--version]
       matrix-hs-threepid --send-test email ADDRESS [--config FILE]
       matrix-hs-threepid --send-test sms NUMBER [--config FILE]

Runs the matrix-hs-threepid sidecar: the public listener (requestToken,
submit_url, the email link page) and the internal listener (the homeserver's
API, /health, /ready, /metrics).

Options:
  --config FILE  the YAML configuration (default: the file named by
                 MATRIX_HS_THREEPID_CONFIG, else the built-in defaults)
  --check        validate the configuration and report every problem, list
                 the database migrations still to apply and say which older
                 outbox keys stored rows still need, then exit
                 (0: no problem; 1: a problem); starts nothing
  --send-test email ADDRESS, --send-test sms NUMBER
                 send one real message (the registration email, or the
                 code text with the code 000000, marked as a test) through
                 the configured SMTP server or SMS provider, outside the
                 outbox (no database needed, nothing stored), and print
                 what happened: each SMTP command and reply, TLS, DKIM, or
                 the provider's request and answer, and the time taken.
                 NUMBER is international, with its +. Exit 0 when the
                 server or provider accepted the message, 1 otherwise
  --help, -h     print this and exit
  --version      print the version and exit

Secrets may come from the environment instead of the file, or from a file
NAME_FILE names (as container secrets are mounted):
${Object.entries(SECRET_ENV)
  .map(([key, name]) => `  ${name.padEnd(41)} ${key}`)
  .join('\n')}

Logging, from the environment: LOG_LEVEL (debug, info, warn, error; default
info; /health and /ready requests are logged at debug) and LOG_FORMAT
(pretty: one readable line a record; json: JSON lines; default: pretty when
stdout is a terminal, json otherwise).
`;

export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run' | 'check'; readonly configFile?: string }
  /** `to`: the canonical address, or the number in E.164 without the `+`. */
  | { readonly kind: 'send-test'; readonly medium: 'email' | 'sms'; readonly to: string; readonly configFile?: string }
  /** A wrong argument: print `message` and the usage, exit 2, start nothing. */
  | { readonly kind: 'usage-error'; readonly message: string };

/**
 * Reads the command line (without `node` and the script). `--config` may be
 * given as `--config FILE` or `--config=FILE`; without it,
 * MATRIX_HS_THREEPID_CONFIG names the file.
 */
export function parseCliArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  let values: { config?: string; check?: boolean; help?: boolean; version?: boolean; 'send-test'?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        config: { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'send-test': { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    return { kind: 'usage-error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (values.config === '') return { kind: 'usage-error', message: "Option '--config' needs a file name" };
  const configFile = values.config ?? (env.MATRIX_HS_THREEPID_CONFIG || undefined);
  const medium = values['send-test'];
  if (medium === undefined) {
    if (positionals.length > 0) return { kind: 'usage-error', message: `Unexpected argument '${positionals[0]}'` };
    return { kind: values.check ? 'check' : 'run', configFile };
  }
  if (values.check) return { kind: 'usage-error', message: "Options '--check' and '--send-test' do not go together" };
  if (medium !== 'email' && medium !== 'sms') return { kind: 'usage-error', message: "Option '--send-test' takes email or sms" };
  if (positionals.length !== 1) {
    return { kind: 'usage-error', message: `'--send-test ${medium}' takes one ${medium === 'email' ? 'ADDRESS' : 'NUMBER'}` };
  }
  const to = recipient(medium, positionals[0]);
  return typeof to === 'string' ? { kind: 'send-test', medium, to, configFile } : to;
}

/** The address as the module canonicalises it, or the number parsed as it parses numbers (international, with its `+`). */
function recipient(medium: 'email' | 'sms', given: string): string | { kind: 'usage-error'; message: string } {
  if (medium === 'email') {
    try {
      return canonicaliseEmail(given);
    } catch (err) {
      return { kind: 'usage-error', message: `${given}: ${(err as Error).message}` };
    }
  }
  const notANumber = { kind: 'usage-error' as const, message: `${given} is not a valid international number: write it with its + and country code` };
  if (!given.trim().startsWith('+')) return notANumber;
  try {
    // The + makes the number name its own country; the one given to dial from is never used.
    return parsePhoneNumber('US', given).msisdn;
  } catch {
    return notANumber;
  }
}
