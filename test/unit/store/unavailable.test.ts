import { parseConfig } from '../../../src/config';
import { StoreUnavailable } from '../../../src/model';
import { asStoreError, unavailableReason } from '../../../src/store/unavailable';
import { WRITE_FAILURE_HOLD_MS, WriteHealth } from '../../../src/store/write-health';

const driverError = (code: string | undefined, message: string) => Object.assign(new Error(message), code ? { code } : {});

describe('which driver errors mean the database is unavailable', () => {
  it.each([
    ['SQLITE_BUSY', 'database is locked', 'busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'database is locked', 'busy'],
    ['SQLITE_FULL', 'database or disk is full', 'full'],
    ['SQLITE_IOERR_WRITE', 'disk I/O error', 'full'],
    ['57P01', 'terminating connection due to administrator command', 'unreachable'],
    ['08006', 'connection failure', 'unreachable'],
    ['53300', 'sorry, too many clients already', 'unreachable'],
    ['53100', 'could not extend file: No space left on device', 'full'],
    ['57014', 'canceling statement due to statement timeout', 'timeout'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432', 'unreachable'],
    ['EPIPE', 'write EPIPE', 'unreachable'],
    [undefined, 'Query read timeout', 'timeout'],
    [undefined, 'timeout exceeded when trying to connect', 'timeout'],
    [undefined, 'Connection terminated unexpectedly', 'unreachable'],
  ])('%s %s: %s', (code, message, reason) => {
    expect(unavailableReason(driverError(code, message))).toBe(reason);
  });

  it.each([
    ['SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed'],
    ['23505', 'duplicate key value violates unique constraint'],
    ['42P01', 'relation does not exist'],
    [undefined, 'something else'],
  ])('%s %s is about the query: passed on as it is', (code, message) => {
    const err = driverError(code, message);
    expect(unavailableReason(err)).toBeUndefined();
    expect(asStoreError(err)).toBe(err);
  });

  it('wraps the driver error, keeping its code and message for the log', () => {
    const err = driverError('SQLITE_FULL', 'database or disk is full');
    const wrapped = asStoreError(err) as StoreUnavailable;
    expect(wrapped).toBeInstanceOf(StoreUnavailable);
    expect(wrapped).toMatchObject({ reason: 'full', detail: 'SQLITE_FULL: database or disk is full', cause: err });
    expect(asStoreError(wrapped)).toBe(wrapped);
  });
});

describe('WriteHealth', () => {
  const full = new StoreUnavailable('full', 'SQLITE_FULL: database or disk is full');
  const busy = new StoreUnavailable('busy', 'SQLITE_BUSY: database is locked');

  it('reports a write that failed for want of room until rows are written again; taking the lock is not enough', () => {
    const health = new WriteHealth(() => 0);
    expect(health.problem()).toBeUndefined();
    health.failed(full);
    expect(health.problem()).toBe('SQLITE_FULL: database or disk is full');
    health.lockTaken();
    expect(health.problem()).toBe('SQLITE_FULL: database or disk is full');
    health.wrote();
    expect(health.problem()).toBeUndefined();
  });

  it('reports a write lock held past the busy timeout until the lock is taken or rows are written', () => {
    const health = new WriteHealth(() => 0);
    health.failed(busy);
    expect(health.problem()).toBe('SQLITE_BUSY: database is locked');
    health.lockTaken();
    expect(health.problem()).toBeUndefined();
    health.failed(busy);
    health.wrote();
    expect(health.problem()).toBeUndefined();
  });

  it('keeps a full disk on record when a busy lock follows it', () => {
    const health = new WriteHealth(() => 0);
    health.failed(full);
    health.failed(busy);
    health.lockTaken();
    expect(health.problem()).toBe('SQLITE_FULL: database or disk is full');
  });

  it.each([
    ['full', full],
    ['busy', busy],
  ])(`forgets a %s failure ${WRITE_FAILURE_HOLD_MS} ms after the last, so a server taken out of rotation is tried again`, (_reason, failure) => {
    let now = 1_000;
    const health = new WriteHealth(() => now);
    health.failed(failure);
    now += 10_000;
    health.failed(failure);
    now += WRITE_FAILURE_HOLD_MS;
    expect(health.problem()).toBeDefined();
    now += 1;
    expect(health.problem()).toBeUndefined();
    expect(WRITE_FAILURE_HOLD_MS).toBe(30_000);
  });

  it('ignores failures that say nothing of writing: a lost connection, a query error', () => {
    const health = new WriteHealth(() => 0);
    health.failed(new StoreUnavailable('unreachable', '57P01'));
    health.failed(new StoreUnavailable('timeout', '57014'));
    health.failed(new Error('UNIQUE constraint failed'));
    expect(health.problem()).toBeUndefined();
  });
});

it('waits a few seconds for the database by default', () => {
  expect(parseConfig({}).database).toMatchObject({ engine: 'sqlite', busyTimeoutMs: 5_000 });
  const postgres = parseConfig({ database: { engine: 'postgres', url: 'postgres://u@127.0.0.1/db' } }).database;
  expect(postgres).toMatchObject({ timeouts: { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, queryTimeoutMs: 10_000 } });
});
