/**
 * Shared set-up for the requestToken end-to-end tests: the module on loopback
 * over a real SQLite file, a real SMTP sink, a raw HTTP helper that keeps every
 * answer (to check afterwards that none was a 500 or leaked a stack trace), and
 * a read-only look into the database (to check that nothing was stored).
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { RawConfig } from '../../src/config';
import type { Flow } from '../../src/store/sessions';
import { eventually } from './e2e-utils';
import { CapturingLogger, removeDir, startModule, tempDir, type Running } from './harness';
import { queryTestDatabase, testEngine } from './postgres';
import { startSmtpSink, type SmtpSink } from './smtp';

import { FLOW_NAMES } from '../../src/threepid/flows';

export const FLOWS = FLOW_NAMES;
export const VERSIONS = ['r0', 'v3'] as const;

const FLOW_PATHS: Record<Flow, string> = {
  register: 'register',
  password: 'account/password',
  '3pid': 'account/3pid',
};

/** Where each flow's email requestToken endpoint is described in the spec. */
export const SPEC_FILES: Record<Flow, [file: string, pathTemplate: string]> = {
  register: ['client-server/registration.yaml', '/register/email/requestToken'],
  password: ['client-server/password_management.yaml', '/account/password/email/requestToken'],
  '3pid': ['client-server/administrative_contact.yaml', '/account/3pid/email/requestToken'],
};

export function requestTokenPath(flow: Flow, version: 'r0' | 'v3' = 'v3'): string {
  return `/_matrix/client/${version}/${FLOW_PATHS[flow]}/email/requestToken`;
}

/** The six email requestToken endpoints, as `[version, flow, path]`. */
export const ALL_ENDPOINTS: ReadonlyArray<[string, Flow, string]> = VERSIONS.flatMap((version) =>
  FLOWS.map((flow): [string, Flow, string] => [version, flow, requestTokenPath(flow, version)]),
);

export interface RawResponse {
  method: string;
  path: string;
  status: number;
  contentType: string;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: any;
  headers: Headers;
}

export interface Fixture {
  smtp: SmtpSink;
  hs: Running;
  dbPath: string;
  logger: CapturingLogger;
  /** Every answer received through {@link Fixture.request}. */
  responses: RawResponse[];
  /**
   * Sends any request to the client listener. A string or byte body is sent
   * as is; anything else as JSON. `Content-Type: application/json` unless overridden.
   */
  request(
    method: string,
    urlPath: string,
    body?: unknown,
    headers?: Record<string, string>,
    init?: Partial<RequestInit>,
  ): Promise<RawResponse>;
  /** POST with a JSON body. */
  post(urlPath: string, body: unknown, headers?: Record<string, string>): Promise<RawResponse>;
  /**
   * Row count of a table, read through a second connection: read-only to the
   * SQLite file, or to the PostgreSQL database that stands for it.
   */
  count(table: 'threepid_sessions' | 'threepid_outbox'): Promise<number>;
  /**
   * Resolves once the outbox holds no pending message: every message the
   * module will ever send for the requests made so far has then been handed
   * to the SMTP sink (the worker marks a row sent only after the sink took it).
   */
  drained(): Promise<void>;
  close(): Promise<void>;
}

/** The module's config, less what the fixture sets: the database file and the SMTP sink. */
type FixtureConfig = Omit<RawConfig, 'database' | 'email'>;

export async function startFixture(raw: FixtureConfig = {}, extra: Parameters<typeof startModule>[1] = {}): Promise<Fixture> {
  const smtp = await startSmtpSink();
  const dir = tempDir('threepid-e2e-');
  const dbPath = path.join(dir, 'threepid.sqlite');
  const logger = new CapturingLogger();
  const hs = await startModule(
    {
      ...raw,
      database: { path: dbPath },
      email: { smtp_host: '127.0.0.1', smtp_port: smtp.port, notif_from: 'hs@example.org' },
    },
    { logger, ...extra },
  );
  const responses: RawResponse[] = [];

  const request: Fixture['request'] = async (method, urlPath, body, headers = {}, init = {}) => {
    const response = await fetch(hs.url + urlPath, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body:
        body === undefined || typeof body === 'string' || body instanceof Uint8Array
          ? (body as string | Uint8Array | undefined)
          : JSON.stringify(body),
      redirect: 'manual',
      ...init,
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const result: RawResponse = {
      method,
      path: urlPath,
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      text,
      body: parsed,
      headers: response.headers,
    };
    responses.push(result);
    return result;
  };

  const query = async <T>(sql: string): Promise<T[]> => {
    if (testEngine() === 'postgres') return queryTestDatabase<T>(dbPath, sql, []);
    const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };

  return {
    smtp,
    hs,
    dbPath,
    logger,
    responses,
    request,
    post: (urlPath, body, headers) => request('POST', urlPath, body, headers),
    count: async (table) => Number((await query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n),
    async drained() {
      const pending = async () =>
        Number((await query<{ n: number | string }>("SELECT COUNT(*) AS n FROM threepid_outbox WHERE status = 'pending'"))[0].n);
      await eventually(async () => (await pending()) === 0, 'the outbox to hold no pending message');
    },
    async close() {
      await hs.close();
      await smtp.close();
      removeDir(dir);
    },
  };
}

/** Lines a stack trace or an internal error would leave in a body. */
const LEAK_PATTERNS = [/\n\s+at\s/, /\bat .+:\d+:\d+/, /node_modules/, /\.ts:\d+/, /\/src\//, /TypeError|ReferenceError|SyntaxError/];

/**
 * No answer was a 5xx, every non-2xx answer is a JSON Matrix error, and no body
 * carries a stack trace; and nothing reached the module's "unexpected error" log.
 */
export function expectNoServerErrorsOrLeaks(fixture: Fixture): void {
  expect(fixture.responses.length).toBeGreaterThan(0);
  for (const response of fixture.responses) {
    const where = `${response.method} ${response.path} → ${response.status}: ${response.text.slice(0, 300)}`;
    if (response.status >= 500) throw new Error(`server error: ${where}`);
    for (const pattern of LEAK_PATTERNS) {
      if (pattern.test(response.text)) throw new Error(`body matches ${pattern}: ${where}`);
    }
    if (response.status >= 400 && !response.contentType.startsWith('application/json')) {
      throw new Error(`error answered as ${response.contentType || 'no content type'}: ${where}`);
    }
  }
  const unexpected = fixture.logger.lines.filter((line) => line.level === 'error');
  expect(unexpected).toEqual([]);
}
