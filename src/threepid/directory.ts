import type { Medium } from '../model';

/**
 * Who owns a 3PID. The host homeserver supplies its own (its user table);
 * the sidecar uses the module's binding table, filled over the internal API.
 */
export interface ThreepidDirectory {
  /** The Matrix user ID bound to this canonical address, or null. */
  findUserId(medium: Medium, address: string): Promise<string | null>;
}
