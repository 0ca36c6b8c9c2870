import type { SessionRecord } from '../model';
import type { Storage } from './ports';
import type { IdCodec, SecretMacs } from './tokens';

/** Finds our own sessions by the sids clients hold, and checks what clients say of them. */
export class SessionLookup {
  constructor(
    private readonly store: Storage,
    private readonly ids: IdCodec,
    private readonly secrets: SecretMacs,
  ) {}

  /** Our own session behind a sid a client gives (see {@link IdCodec}). */
  async find(sid: string): Promise<SessionRecord | undefined> {
    for (const key of this.ids.candidates(sid)) {
      const session = await this.store.sessions.getSession(key);
      if (session) return session;
    }
    return undefined;
  }

  secretMatches(session: SessionRecord, clientSecret: string): boolean {
    return this.secrets.matches(session.clientSecretHash, clientSecret);
  }

  tokenMatches(session: SessionRecord, token: string): boolean {
    return this.secrets.matches(session.tokenHash, token);
  }
}
