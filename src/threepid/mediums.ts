import type { Channel } from '../store/outbox';
import type { Medium } from '../store/sessions';
import { canonicaliseEmail } from './email';
import { stringField, type JsonObject } from './request-body';
import { randomId, type RandomSource } from './tokens';

/** What differs between email and phone numbers; everything else is shared. */
export interface MediumRules {
  readonly medium: Medium;
  readonly channel: Channel;
  /** Body fields that name the address. */
  readonly addressFields: readonly string[];
  /** The canonical address from a checked body, or `M_INVALID_PARAM`. */
  canonicalAddress(body: JsonObject): string;
  /** A fresh token to send. */
  newToken(random: RandomSource): string;
}

export const emailRules: MediumRules = {
  medium: 'email',
  channel: 'email',
  addressFields: ['email'],
  canonicalAddress: (body) => canonicaliseEmail(stringField(body, 'email')),
  // 128 bits: the token travels in a link, so length costs the user nothing.
  newToken: (random) => randomId(random),
};
