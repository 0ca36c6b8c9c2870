import { ThreepidError } from './errors';

/**
 * Checks a client's `next_link` (where the user lands after validating).
 * Only http(s) URLs, so a link can never run script (`javascript:`) or open
 * another scheme; with a whitelist, only those hosts (Synapse's
 * `next_link_domain_whitelist`).
 */
export function checkNextLink(nextLink: string, whitelist: readonly string[] | null): string {
  // The URL parser would quietly drop tabs and newlines and encode the rest:
  // a link that says one thing and goes to another is refused instead.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f]/.test(nextLink)) {
    throw new ThreepidError('M_INVALID_PARAM', 'next_link is not a valid URL: it contains a space or a control character');
  }
  let url: URL;
  try {
    url = new URL(nextLink);
  } catch {
    throw new ThreepidError('M_INVALID_PARAM', 'next_link is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ThreepidError('M_INVALID_PARAM', 'next_link must be an http or https URL');
  }
  if (whitelist !== null && !whitelist.includes(url.hostname.toLowerCase())) {
    throw new ThreepidError('M_INVALID_PARAM', "next_link's domain is not allowed on this server");
  }
  return url.toString();
}

/** Appends `sid` to a validated next_link, as Element expects on return. */
export function nextLinkWithSid(nextLink: string, sid: string): string {
  const url = new URL(nextLink);
  url.searchParams.set('sid', sid);
  return url.toString();
}
