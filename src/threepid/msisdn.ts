import type { CountryCode } from 'libphonenumber-js/max';
import { ThreepidError } from './errors';

type PhoneNumberLibrary = typeof import('libphonenumber-js/max');
let library: PhoneNumberLibrary | undefined;

/**
 * libphonenumber-js with its full metadata, loaded by the first number to
 * parse: loading it was a tenth of the sidecar's start, which a server
 * validating email only never needs to pay.
 */
function phoneNumbers(): PhoneNumberLibrary {
  return (library ??= require('libphonenumber-js/max') as PhoneNumberLibrary);
}

export interface ParsedPhoneNumber {
  /** E.164 without the `+` (spec appendix "3PID Types"): `447700900123`. */
  readonly msisdn: string;
  /** How a person writes it internationally: `+44 7700 900123`. */
  readonly intlFmt: string;
  /** The number's own country (ISO 3166-1 alpha-2), which may differ from the one dialled from. */
  readonly country: string | undefined;
  /** libphonenumber-js's type for it (`MOBILE`, `PREMIUM_RATE`, `SHARED_COST`, …), when its metadata knows one. */
  readonly numberType: string | undefined;
}

/**
 * Resolves `phone_number` as dialled from `country` with libphonenumber-js's
 * full metadata. The number must be valid (assigned ranges for its country),
 * not merely of a possible length: SMS to unassigned ranges is how pumping
 * fraud burns money.
 */
export function parsePhoneNumber(country: string, phoneNumber: string): ParsedPhoneNumber {
  if (!/^[A-Za-z]{2}$/.test(country)) {
    throw new ThreepidError('M_INVALID_PARAM', 'country must be a two-letter country code such as "GB"');
  }
  if (phoneNumber.length > 64 || !/^[0-9+\-.()\s]+$/.test(phoneNumber)) {
    throw new ThreepidError('M_INVALID_PARAM', 'phone_number may contain only digits, spaces and + - . ( )');
  }
  const parsed = phoneNumbers().parsePhoneNumberFromString(phoneNumber, country.toUpperCase() as CountryCode);
  if (!parsed || !parsed.isValid()) {
    throw new ThreepidError('M_INVALID_PARAM', `${phoneNumber} is not a valid phone number for ${country.toUpperCase()}`);
  }
  return {
    msisdn: parsed.number.slice(1),
    intlFmt: parsed.formatInternational(),
    country: parsed.country,
    numberType: parsed.getType(),
  };
}
