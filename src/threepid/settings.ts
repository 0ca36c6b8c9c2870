import type { PolicySwitches } from './address-checks';
import type { RateLimit } from './rate-limiter';

/**
 * What the domain reads of the configuration, each part only its own keys.
 * The module passes the config's sections; they fit these shapes.
 */

/** Text messages: the abuse controls (`sms:` in the config). */
export interface SmsPolicySettings {
  readonly perNumber: RateLimit;
  readonly perPrefix: RateLimit;
  readonly perIp: RateLimit;
  /** ISO 3166 codes; empty: every country not denied. */
  readonly allowedCountries: readonly string[];
  readonly deniedCountries: readonly string[];
  /** Numbers of no country (satellite +881, premium-rate +979…), which no country rule names. */
  readonly allowNonGeographic: boolean;
  /** Premium-rate and shared-cost numbers, whose texts the sender pays extra for. */
  readonly allowPremiumRate: boolean;
  /** Text messages sent in a day, across all numbers. */
  readonly dailyLimit: number;
}

/** Proxy mode (`identity_server:`): which identity servers a client may name. */
export interface IdentityProxySettings {
  readonly proxy: boolean;
  readonly trusted: readonly string[];
}

/** What the token routines read. */
export interface ServiceSettings {
  readonly publicBaseurl: string;
  readonly nextLinkDomainWhitelist: readonly string[] | null;
  readonly inhibit3pidErrors: boolean;
  readonly rateLimit: RateLimit;
  readonly email: {
    readonly enabled: boolean;
    readonly validationTokenLifetimeMs: number;
    readonly defaultLanguage: string;
  };
  readonly sms: SmsPolicySettings & {
    readonly enabled: boolean;
    readonly validationTokenLifetimeMs: number;
    readonly maxTokenAttempts: number;
  };
  readonly identityServer: IdentityProxySettings;
  readonly policy: PolicySwitches;
}
