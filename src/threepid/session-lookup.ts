import type { SessionRecord } from '../model';
import type { Storage } from './ports';
import { hashSecret, hashesEqual, type IdCodec } from './tokens';

/** Finds our own sessions by the sids clients hold. */
export class SessionLookup {
  constructor(
    private readonly store: Storage,
    private readonly ids: IdCodec,
  ) {}

  /** Our own session behind a sid a client gives (see {@link IdCodec}). */
  async find(sid: string): Promise<SessionRecord | undefined> {
    for (const key of this.ids.candidates(sid)) {
      const session = await this.store.sessions.getSession(key);
      if (session) return session;
    }
    return undefined;
  }
}

export function secretMatches(session: SessionRecord, clientSecret: string): boolean {
  return hashesEqual(session.clientSecretHash, hashSecret(clientSecret));
}
