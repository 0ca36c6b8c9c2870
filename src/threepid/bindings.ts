import type { Medium } from '../model';
import type { Clock } from '../sources';
import type { BindingRecord, Storage } from './ports';
import type { ThreepidDirectory } from './directory';
import { canonicaliseEmail } from './email';
import { ThreepidError } from './errors';
import { isWellFormedText } from './request-body';

/** `@localpart:server`, at most 255 characters (the spec's limit), nothing invisible or unpaired. */
const USER_ID_PATTERN = /^@[^:\s\p{Cc}\p{Cf}]+:[^\s\p{Cc}\p{Cf}]+$/u;

export function parseMedium(value: unknown): Medium {
  if (value === 'email' || value === 'msisdn') return value;
  throw new ThreepidError('M_INVALID_PARAM', 'medium must be "email" or "msisdn"');
}

/** The canonical form of an address the homeserver names (already validated once). */
export function canonicalAddress(medium: Medium, address: string): string {
  if (medium === 'email') return canonicaliseEmail(address);
  const digits = address.trim().replace(/^\+/, '');
  if (!/^[1-9]\d{6,14}$/.test(digits)) throw new ThreepidError('M_INVALID_PARAM', 'msisdn must be an E.164 number');
  return digits;
}

/**
 * The module's own 3PID directory, which the sidecar's homeserver fills over
 * the internal API. It is also the default {@link ThreepidDirectory}.
 */
export class BindingService implements ThreepidDirectory {
  /** @internal The module builds it; hosts get it as `ThreepidModule.bindings`. */
  constructor(
    private readonly store: Storage,
    private readonly clock: Clock,
  ) {}

  async findUserId(medium: Medium, address: string): Promise<string | null> {
    return (await this.store.bindings.find(medium, address))?.userId ?? null;
  }

  async get(medium: Medium, address: string): Promise<BindingRecord> {
    const binding = await this.store.bindings.find(medium, canonicalAddress(medium, address));
    if (!binding) throw new ThreepidError('M_NOT_FOUND', 'No user is bound to this 3PID');
    return binding;
  }

  async put(medium: Medium, address: string, userId: unknown, validatedAt?: unknown): Promise<BindingRecord> {
    if (typeof userId !== 'string' || userId.length > 255 || !isWellFormedText(userId) || !USER_ID_PATTERN.test(userId)) {
      throw new ThreepidError('M_INVALID_PARAM', 'user_id must be a Matrix user ID');
    }
    const now = this.clock.now();
    if (validatedAt !== undefined && (typeof validatedAt !== 'number' || !Number.isSafeInteger(validatedAt))) {
      throw new ThreepidError('M_INVALID_PARAM', 'validated_at must be milliseconds since the epoch');
    }
    const binding: BindingRecord = {
      medium,
      address: canonicalAddress(medium, address),
      userId,
      validatedAt: (validatedAt as number | undefined) ?? now,
      addedAt: now,
    };
    await this.store.bindings.put(binding);
    return binding;
  }

  async delete(medium: Medium, address: string): Promise<void> {
    if (!(await this.store.bindings.delete(medium, canonicalAddress(medium, address)))) {
      throw new ThreepidError('M_NOT_FOUND', 'No user is bound to this 3PID');
    }
  }
}
