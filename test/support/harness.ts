import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Router } from 'express';
import jwt from 'jsonwebtoken';
import { parseConfig, type RawConfig } from '../../src/config';
import { createApp } from '../../src/http/app';
import { clientServerCors } from '../../src/http/cors';
import type { Logger } from '../../src/logger';
import type { Clock, MonotonicClock } from '../../src/sources';
import { postgresDatabaseFor, testEngine } from './postgres';
import { createThreepidModule, type ThreepidModule, type ThreepidModuleOptions } from '../../src/module';

export const SHARED_SECRET = 'test-shared-secret-that-is-long-enough-0123456789';

/**
 * A clock tests move by hand, wall and monotonic alike: `advance` is time
 * passing; `step` moves the wall clock alone, as NTP or `date -s` does.
 */
export class FakeClock implements Clock, MonotonicClock {
  private monotonic = 0;
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  monotonicNow(): number {
    return this.monotonic;
  }
  advance(ms: number): void {
    this.ms += ms;
    this.monotonic += ms;
  }
  step(ms: number): void {
    this.ms += ms;
  }
}

/** A logger that keeps every line, to assert what was (not) logged. */
export class CapturingLogger implements Logger {
  readonly lines: Array<{ level: string; fields: object; message?: string }> = [];
  debug(fields: object, message?: string) {
    this.lines.push({ level: 'debug', fields, message });
  }
  info(fields: object, message?: string) {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: object, message?: string) {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: object, message?: string) {
    this.lines.push({ level: 'error', fields, message });
  }
  text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join('\n');
  }
}

export function tempDir(prefix = 'threepid-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Running {
  module: ThreepidModule;
  /** Base URL of the public listener, e.g. http://127.0.0.1:PORT */
  url: string;
  /** Base URL of the internal listener. */
  internalUrl: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * The module as the sidecar runs it, in-process: its client and internal
 * routers on two loopback listeners, over a real SQLite file.
 * `public_baseurl` is set to the client listener's address.
 */
export async function startModule(
  raw: RawConfig & { database: { path: string } },
  extra: Omit<ThreepidModuleOptions, 'config'> = {},
  /** More routes on the public listener, before the module's (what else the operator's server serves, e.g. a logo). */
  alsoServed: readonly Router[] = [],
): Promise<Running> {
  const clientServer = createServer();
  const internalServer = createServer();
  const url = await listen(clientServer);
  const internalUrl = await listen(internalServer);
  // On the postgres jest project, the test's SQLite path stands for a PostgreSQL database.
  const database =
    testEngine() === 'postgres'
      ? { ...raw.database, engine: 'postgres' as const, url: await postgresDatabaseFor(raw.database.path) }
      : raw.database;
  const logger = extra.logger;
  let module: ThreepidModule;
  try {
    const config = parseConfig({
      public_baseurl: url,
      homeserver: { shared_secret: SHARED_SECRET },
      rc_3pid_validation: { per_second: 1000, burst_count: 1000 },
      ...raw,
      database,
    });
    // A FakeClock stands for all of the module's time, durations included.
    const monotonicClock = extra.monotonicClock ?? (extra.clock instanceof FakeClock ? extra.clock : undefined);
    module = await createThreepidModule({ processMetrics: false, ...extra, monotonicClock, config, logger });
  } catch (err) {
    // A config the test meant to be refused must not leave the listeners open (jest would never exit).
    for (const server of [clientServer, internalServer]) server.close();
    throw err;
  }
  const clientApp = createApp([clientServerCors, ...alsoServed, module.clientRouter, module.accountRouter], logger ?? silent, module.metrics);
  clientServer.on('request', clientApp);
  internalServer.on(
    'request',
    createApp([module.internalRouter, module.identityServiceRouter, module.opsRouter], logger ?? silent, module.metrics),
  );
  return {
    module,
    url,
    internalUrl,
    async close() {
      for (const server of [clientServer, internalServer]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await module.close();
    },
  };
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A JWT for the internal API; `expiresIn: null` makes one without `exp`. */
export function internalToken(claims: object = {}, secret = SHARED_SECRET, expiresIn: number | null = 60): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', ...(expiresIn === null ? {} : { expiresIn }) });
}

export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** POSTs JSON (or any raw string) and reads a JSON answer. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
