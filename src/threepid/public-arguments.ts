import type { Flow, IdentityCredentials } from '../model';
import { ThreepidError } from './errors';
import { FLOW_NAMES, isFlow } from './flows';
import { OPAQUE_ID_PATTERN } from './request-body';
import type { ThreepidService } from './service';

/*
 * The module's public calls are made by a host's code, in JavaScript as
 * often as in TypeScript: every argument is checked at run time, and a bad
 * one is a Matrix error naming it (`M_INVALID_PARAM`), never a TypeError
 * from deep inside.
 */

/** `sid` and `client_secret` as the spec allows them. */
export function checkSessionArguments(sid: unknown, clientSecret: unknown): asserts sid is string {
  for (const [name, value] of [['sid', sid], ['client_secret', clientSecret]] as const) {
    if (typeof value !== 'string' || !OPAQUE_ID_PATTERN.test(value)) {
      throw new ThreepidError('M_INVALID_PARAM', `${name} must be a string matching ${OPAQUE_ID_PATTERN.source}`);
    }
  }
}

/** One of the three flows, refused by name otherwise. */
export function checkFlow(flow: unknown): asserts flow is Flow {
  if (!isFlow(flow)) {
    const named = typeof flow === 'string' ? `"${flow.slice(0, 40)}"` : typeof flow;
    throw new ThreepidError('M_INVALID_PARAM', `flow must be one of ${FLOW_NAMES.join(', ')}; got ${named}`);
  }
}

/** Absent, or an object whose `idServer` and `idAccessToken` are strings when present. */
export function checkCredentials(creds: unknown): asserts creds is IdentityCredentials | undefined {
  if (creds === undefined) return;
  if (creds === null || typeof creds !== 'object' || Array.isArray(creds)) {
    throw new ThreepidError('M_INVALID_PARAM', 'creds must be an object with idServer and idAccessToken');
  }
  for (const key of ['idServer', 'idAccessToken'] as const) {
    const value = (creds as Record<string, unknown>)[key];
    if (value !== undefined && typeof value !== 'string') throw new ThreepidError('M_INVALID_PARAM', `creds.${key} must be a string`);
  }
}

/** A logger as the module calls it: `debug`, `info`, `warn` and `error`, each a function. */
export function checkLogger(logger: unknown, name = 'logger'): void {
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  if (!logger || typeof logger !== 'object' || methods.some((method) => typeof (logger as Record<string, unknown>)[method] !== 'function')) {
    throw new ThreepidError('M_INVALID_PARAM', `${name} must have debug, info, warn and error functions`);
  }
}

/** A string that is not empty, refused by name otherwise. */
export function checkText(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '') throw new ThreepidError('M_INVALID_PARAM', `${name} must be a non-empty string`);
}

/** `consume` is a yes or no. */
export function checkBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw new ThreepidError('M_INVALID_PARAM', `${name} must be true or false`);
}

type HomeserverCalls = Pick<ThreepidService, 'checkThreepidAuth' | 'getValidated' | 'consume'>;

/** The service's calls for a homeserver, as the module hands them to its host: each argument checked first. */
export function checkedHomeserverCalls(service: HomeserverCalls): HomeserverCalls {
  return {
    async checkThreepidAuth(auth: unknown, flow: Flow, consume: boolean) {
      checkFlow(flow);
      checkBoolean(consume, 'consume');
      return service.checkThreepidAuth(auth, flow, consume);
    },
    async getValidated(sid: string, clientSecret: string, creds?: IdentityCredentials) {
      checkSessionArguments(sid, clientSecret);
      checkCredentials(creds);
      return service.getValidated(sid, clientSecret, creds);
    },
    async consume(sid: string, clientSecret: string, flow: Flow, creds?: IdentityCredentials) {
      checkSessionArguments(sid, clientSecret);
      checkFlow(flow);
      checkCredentials(creds);
      return service.consume(sid, clientSecret, flow, creds);
    },
  };
}
