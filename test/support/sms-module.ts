/**
 * The module texting through a real SMS gateway, each start on a fresh
 * SQLite file, for tests that compare `sms` settings: one gateway and one
 * directory per test, closed after it with whatever module is still running.
 */
import path from 'node:path';
import type { RawConfig } from '../../src/config';
import { removeDir, startModule, tempDir, type JsonResponse, type Running } from './harness';
import { startSmsGateway, twilioSmsConfig, type SmsGateway } from './sms-gateway';
import { expectMatrixError } from './spec';

export interface SmsModule {
  readonly gateway: SmsGateway;
  /** The SQLite file of the latest start. */
  readonly database: string;
  /** Starts the module with these `sms` settings over the gateway's. */
  start(sms?: Record<string, unknown>): Promise<Running>;
  /** Closes the running module, so that the next start is a fresh one. */
  stop(): Promise<void>;
}

/** Registers the hooks that open and close an {@link SmsModule} around each test. */
export function smsModuleForEachTest(): SmsModule {
  let gateway: SmsGateway;
  let dir: string;
  let hs: Running | undefined;
  let starts = 0;

  beforeEach(async () => {
    gateway = await startSmsGateway();
    dir = tempDir();
  });

  afterEach(async () => {
    await hs?.close();
    hs = undefined;
    await gateway.close();
    removeDir(dir);
  });

  return {
    get gateway() {
      return gateway;
    },
    get database() {
      return path.join(dir, `threepid-${starts}.sqlite`);
    },
    async start(sms = {}) {
      starts += 1;
      hs = await startModule({
        database: { path: path.join(dir, `threepid-${starts}.sqlite`) },
        sms: { ...twilioSmsConfig(gateway.url), ...sms },
      } as RawConfig & { database: { path: string } });
      return hs;
    },
    async stop() {
      await hs?.close();
      hs = undefined;
    },
  };
}

/** [what, country dialled from, number, E.164 with +]. */
export type NumberCase = [what: string, country: string, phone: string, e164: string];

type Ask = (country: string, phone: string) => Promise<JsonResponse>;

/** Each number is refused with 403 M_THREEPID_DENIED. */
export async function expectEachDenied(numbers: NumberCase[], ask: Ask): Promise<void> {
  for (const [what, country, phone] of numbers) {
    const refused = await ask(country, phone);
    expect([what, refused.status]).toEqual([what, 403]);
    expectMatrixError(refused.body, 'M_THREEPID_DENIED');
  }
}

/** Each number is accepted, and its code arrives at the gateway. */
export async function expectEachTexted(numbers: NumberCase[], ask: Ask, gateway: SmsGateway): Promise<void> {
  for (const [what, country, phone, e164] of numbers) {
    expect([what, (await ask(country, phone)).status]).toEqual([what, 200]);
    await gateway.codeTo(e164);
  }
}
