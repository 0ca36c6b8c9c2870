import type { Channel, Medium } from '../model';
import type { RandomSource } from '../sources';
import { canonicaliseEmail } from './email';
import { parsePhoneNumber } from './msisdn';
import { stringField, type JsonObject } from './request-body';
import { randomId } from './tokens';

export interface ParsedAddress {
  /** The canonical 3PID address. */
  readonly address: string;
  /** Extra fields of the requestToken answer (`msisdn`, `intl_fmt`). */
  readonly responseFields?: Readonly<Record<string, string>>;
  /** The phone number's country; none for a non-geographic number (+881, +979…). */
  readonly country?: string;
  /** The phone number's type, as libphonenumber-js names it. */
  readonly numberType?: string;
}

/** What differs between email and phone numbers; everything else is shared. */
export interface MediumRules {
  readonly medium: Medium;
  readonly channel: Channel;
  /** Body fields that name the address. */
  readonly addressFields: readonly string[];
  /** The canonical address from a checked body, or `M_INVALID_PARAM`. */
  parseAddress(body: JsonObject): ParsedAddress;
  /** A fresh token to send. */
  newToken(random: RandomSource): string;
}

export const emailRules: MediumRules = {
  medium: 'email',
  channel: 'email',
  addressFields: ['email'],
  parseAddress: (body) => ({ address: canonicaliseEmail(stringField(body, 'email')) }),
  // 128 bits: the token travels in a link, so length costs the user nothing.
  newToken: (random) => randomId(random),
};

/** One million codes; below 2^32 by far, so rejection sampling rarely repeats. */
const CODE_SPACE = 1_000_000;
const UNBIASED_LIMIT = Math.floor(0x1_0000_0000 / CODE_SPACE) * CODE_SPACE;

/** A six-digit code from the CSPRNG, uniform (no modulo bias). */
export function numericCode(random: RandomSource): string {
  for (;;) {
    const value = random.bytes(4).readUInt32BE(0);
    if (value < UNBIASED_LIMIT) return String(value % CODE_SPACE).padStart(6, '0');
  }
}

export const msisdnRules: MediumRules = {
  medium: 'msisdn',
  channel: 'sms',
  addressFields: ['country', 'phone_number'],
  parseAddress: (body) => {
    const parsed = parsePhoneNumber(stringField(body, 'country'), stringField(body, 'phone_number'));
    return {
      address: parsed.msisdn,
      responseFields: { msisdn: parsed.msisdn, intl_fmt: parsed.intlFmt },
      country: parsed.country,
      numberType: parsed.numberType,
    };
  },
  // A person types it from a text message: short, so wrong tries are limited per session.
  newToken: numericCode,
};
