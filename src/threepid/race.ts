/** A parallel request with the same secret and address changed the session between our read and our write. */
export class LostRace extends Error {}

/** Attempts at a session write before a lost race is an error. */
const SESSION_WRITE_ATTEMPTS = 3;

/**
 * Runs a session write again when a parallel identical request won the race
 * (its insert hit the unique index on open sessions, or its update came
 * first): read again, the winner's session is then answered as it stands.
 */
export async function raceSafe<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const lost = err instanceof LostRace;
      if (!lost || attempt >= SESSION_WRITE_ATTEMPTS) throw err;
    }
  }
}
