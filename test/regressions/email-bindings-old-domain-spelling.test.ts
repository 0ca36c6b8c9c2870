/**
 * Email domains are now UTS-46-mapped to one spelling kept in Unicode, where
 * earlier versions only lower-cased them: a binding stored as
 * `b@xn--strae-oqa.de` was missed by lookups of `b@straße.de`, so its
 * owner's password reset said M_THREEPID_NOT_FOUND, registration took the
 * address as free (a second account could bind the mailbox), and it could
 * not be deleted. At start such domains are respelled; the local part is
 * kept as stored (it names the mailbox the validation mail went to); a
 * respelling that is already another binding leaves both rows and warns
 * with a count. Two modules start together on one database, as replicas do.
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema';
import { CapturingLogger, post, removeDir, startModule, tempDir, type Running } from '../support/harness';
import { openTestDatabase } from '../support/postgres';
import { expectMatrixError } from '../support/spec';

/** Rows as the previous version stored them: the domain lower-cased, nothing else. */
const OLD_ROWS: Array<[address: string, userId: string]> = [
  ['b@xn--strae-oqa.de', '@b:example.org'], // typed B@XN--STRAE-OQA.DE
  ['g@victim.com\u3002attacker.net', '@g:example.org'], // typed with an ideographic full stop
  ['ivan@xn--bcher-kva.de', '@ivan:example.org'], // typed ıvan@XN--BCHER-KVA.de: the old fold mailed ivan@
  ['e@xn--strae-oqa.de', '@e-old:example.org'], // collides with the next one
  ['e@straße.de', '@e-new:example.org'],
  ['a@example.com\u3002', '@a:example.org'], // a trailing dot: no longer an address
  ['f@example.com', '@f:example.org'],
];

async function rows(db: Kysely<Database>): Promise<Array<{ address: string; user_id: string }>> {
  return db.selectFrom('threepid_bindings').select(['address', 'user_id']).where('medium', '=', 'email').orderBy('user_id').execute();
}

describe('email bindings stored with an older spelling of their domain', () => {
  let dir: string;
  let db: Kysely<Database>;
  let replicas: Running[];
  const loggers = [new CapturingLogger(), new CapturingLogger()];

  beforeAll(async () => {
    dir = tempDir();
    ({ db } = await openTestDatabase(dir));
    const now = Date.now();
    await db
      .insertInto('threepid_bindings')
      .values(OLD_ROWS.map(([address, user_id]) => ({ medium: 'email', address, user_id, validated_at: now, added_at: now })))
      .execute();
    const database = { path: path.join(dir, 'threepid.sqlite') };
    replicas = await Promise.all(loggers.map((logger) => startModule({ database }, { logger })));
  });

  afterAll(async () => {
    for (const replica of replicas ?? []) await replica.close();
    await db?.destroy();
    removeDir(dir);
  });

  const url = () => replicas[0].url;

  it('respells the domain only, once, and keeps both rows of a collision', async () => {
    expect(await rows(db)).toEqual([
      { address: 'a@example.com\u3002', user_id: '@a:example.org' },
      { address: 'b@straße.de', user_id: '@b:example.org' },
      { address: 'e@straße.de', user_id: '@e-new:example.org' },
      { address: 'e@xn--strae-oqa.de', user_id: '@e-old:example.org' },
      { address: 'f@example.com', user_id: '@f:example.org' },
      { address: 'g@victim.com.attacker.net', user_id: '@g:example.org' },
      { address: 'ivan@bücher.de', user_id: '@ivan:example.org' },
    ]);
    const counted = (logger: CapturingLogger, field: string) =>
      logger.lines.reduce((sum, line) => sum + Number((line.fields as Record<string, unknown>)[field] ?? 0), 0);
    expect(counted(loggers[0], 'rewritten') + counted(loggers[1], 'rewritten')).toBe(3);
    for (const logger of loggers) {
      expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: { collisions: 1 } }));
      expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: { unmappable: 1 } }));
      expect(logger.text()).not.toMatch(/@[a-z]*(example|straße|xn--|victim|bücher)/i);
    }
  });

  it.each(['B@XN--STRAE-OQA.DE', 'g@victim.com\u3002attacker.net', 'ivan@XN--BCHER-KVA.de'])(
    '%s: its owner can reset the password, nobody can register it, and it can be deleted',
    async (typed) => {
      const reset = await post(`${url()}/_matrix/client/v3/account/password/email/requestToken`, { client_secret: 'reset', email: typed, send_attempt: 1 });
      expect(reset.status).toBe(200);
      expect(typeof reset.body.sid).toBe('string');
      const register = await post(`${url()}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'register', email: typed, send_attempt: 1 });
      expect(register.status).toBe(400);
      expectMatrixError(register.body, 'M_THREEPID_IN_USE');
      await replicas[1].module.bindings.delete('email', typed);
      const again = await post(`${url()}/_matrix/client/v3/register/email/requestToken`, { client_secret: 'register2', email: typed, send_attempt: 1 });
      expect(again.status).toBe(200);
    },
  );

  it('a later start has nothing left to respell', async () => {
    const logger = new CapturingLogger();
    const later = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') } }, { logger });
    await later.close();
    expect(logger.lines.filter((line) => 'rewritten' in line.fields)).toEqual([]);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: { collisions: 1 } }));
  });
});
