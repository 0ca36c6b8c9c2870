import { parseArgs } from 'node:util';

/** What `matrix-hs-threepid --help` prints, and what a wrong argument is answered with. */
export const USAGE = `Usage: matrix-hs-threepid [--config FILE | --config=FILE] [--check] [--help] [--version]

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
  --help, -h     print this and exit
  --version      print the version and exit

Secrets may come from the environment instead of the file, or from a file an
environment variable names: MATRIX_HS_THREEPID_SMTP_PASS(_FILE),
MATRIX_HS_THREEPID_SHARED_SECRET(_FILE), MATRIX_HS_THREEPID_TWILIO_AUTH_TOKEN(_FILE),
MATRIX_HS_THREEPID_SNS_SECRET_ACCESS_KEY(_FILE), MATRIX_HS_THREEPID_VONAGE_API_SECRET(_FILE),
MATRIX_HS_THREEPID_DATABASE_URL(_FILE).
`;

export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run' | 'check'; readonly configFile?: string }
  /** A wrong argument: print `message` and the usage, exit 2, start nothing. */
  | { readonly kind: 'usage-error'; readonly message: string };

/**
 * Reads the command line (without `node` and the script). `--config` may be
 * given as `--config FILE` or `--config=FILE`; without it,
 * MATRIX_HS_THREEPID_CONFIG names the file.
 */
export function parseCliArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  let values: { config?: string; check?: boolean; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        config: { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { kind: 'usage-error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (values.config === '') return { kind: 'usage-error', message: "Option '--config' needs a file name" };
  const configFile = values.config ?? (env.MATRIX_HS_THREEPID_CONFIG || undefined);
  return { kind: values.check ? 'check' : 'run', configFile };
}
