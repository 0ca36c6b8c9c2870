import type { SmsPolicySettings } from './settings';
import type { Storage } from './ports';
import { ThreepidError } from './errors';
import type { ParsedAddress } from './mediums';
import type { ThreepidEvents } from '../observability/events';
import type { Limiter, LimiterFactory } from './rate-limiter';

/**
 * Numbers sharing all digits but the last four count as one range: SMS
 * pumping walks through consecutive numbers, which one per-number limit
 * does not see.
 */
const RANGE_SUFFIX_DIGITS = 4;
const DAY_MS = 86_400_000;

/**
 * Number types whose texts the sender pays extra for (libphonenumber-js's
 * names); SMS pumping targets them because the fraudster shares the fee.
 * Personal numbers (UK 070, DE 0700, US 500/533) forward to any phone and
 * are charged above mobile rates; UK 070 is a classic pumping target. UAN
 * and VoIP numbers are charged at ordinary rates and real users have them,
 * so they stay allowed.
 */
const PREMIUM_TYPES: ReadonlySet<string> = new Set(['PREMIUM_RATE', 'SHARED_COST', 'PERSONAL_NUMBER']);

/**
 * The abuse controls of the SMS path, on top of the general limits: a text
 * message costs money, and a premium-rate range can be made to cost a lot.
 */
export class SmsPolicy {
  private readonly perNumber: Limiter;
  private readonly perRange: Limiter;
  private readonly perIp: Limiter;

  constructor(
    private readonly settings: SmsPolicySettings,
    limiter: LimiterFactory,
    private readonly events: ThreepidEvents,
  ) {
    this.perNumber = limiter('sms_number', settings.perNumber);
    this.perRange = limiter('sms_range', settings.perPrefix);
    this.perIp = limiter('sms_ip', settings.perIp);
  }

  /**
   * Destination rules (`M_THREEPID_DENIED`), then the per-number, per-range
   * and per-IP limits; no per-IP limit without a client IP (a homeserver
   * asking through the identity-service API, whose own IP says nothing of
   * the user).
   */
  async checkDestination(parsed: ParsedAddress, clientIp: string | undefined): Promise<void> {
    this.checkCountry(parsed.country);
    if (!this.settings.allowPremiumRate && parsed.numberType !== undefined && PREMIUM_TYPES.has(parsed.numberType)) {
      this.events.policyRefused('sms_number_types', 'msisdn', 'request');
      throw new ThreepidError('M_THREEPID_DENIED', 'This server does not send text messages to premium-rate, shared-cost or personal numbers');
    }
    await this.perNumber.take(parsed.address);
    await this.perRange.take(parsed.address.slice(0, -RANGE_SUFFIX_DIGITS));
    if (clientIp !== undefined) await this.perIp.take(clientIp);
  }

  /**
   * A number of no country escapes every country list, so whether it passes
   * is its own setting (off by default), which the lists do not change.
   */
  private checkCountry(country: string | undefined): void {
    const { allowedCountries, deniedCountries, allowNonGeographic } = this.settings;
    const refused =
      country === undefined
        ? !allowNonGeographic
        : deniedCountries.includes(country) || (allowedCountries.length > 0 && !allowedCountries.includes(country));
    if (refused) {
      this.events.policyRefused('sms_countries', 'msisdn', 'request');
      throw new ThreepidError('M_THREEPID_DENIED', 'This server does not send text messages to that country');
    }
  }

  /**
   * The global cap: refuses once `daily_limit` codes went out in the last 24
   * hours. Runs in the transaction that enqueues the code, under a lock every
   * replica shares: two counts taken side by side would both see room for
   * the last code, and both send one.
   */
  async checkDailyCap(store: Storage, now: number): Promise<void> {
    await store.lockUntilCommit('sms_daily_cap');
    const sent = await store.outbox.countCreatedSince('sms', now - DAY_MS);
    if (sent.count >= this.settings.dailyLimit) {
      this.events.rateLimited('sms_daily');
      const retryAfterMs = Math.max(1000, (sent.oldestCreatedAt ?? now) + DAY_MS - now);
      throw new ThreepidError('M_LIMIT_EXCEEDED', 'This server has sent all the text messages it may send today', {
        retry_after_ms: retryAfterMs,
      });
    }
  }
}
