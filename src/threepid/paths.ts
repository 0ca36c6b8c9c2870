import type { Medium } from '../model';

/**
 * Every page and endpoint the module serves itself (beyond the Matrix client
 * API paths) lives under this prefix, so a reverse proxy needs one rule for it.
 */
export const PUBLIC_PREFIX = '/_threepid/client/v1';

/** `submit_url`: the client POSTs `{sid, client_secret, token}` here. */
export function submitTokenPath(medium: Medium): string {
  return `${PUBLIC_PREFIX}/${medium}/submit_token`;
}

/** The page an emailed link opens. */
export const EMAIL_VALIDATE_PATH = `${PUBLIC_PREFIX}/email/validate`;
