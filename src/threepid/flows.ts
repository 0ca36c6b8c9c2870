import { DELEGATED, type EmailTemplate, type Flow, type SessionFlow } from '../model';
import type { Errcode } from './errors';

export type { EmailTemplate } from '../model';

/** Per-flow rules: what the 3PID directory must say, and which message to send. */
export interface FlowRules {
  /** Password reset needs an address someone owns; registration and adding need a free one. */
  readonly addressMustBeBound: boolean;
  readonly template: EmailTemplate;
}

export const FLOWS: Readonly<Record<Flow, FlowRules>> = Object.freeze({
  register: { addressMustBeBound: false, template: 'registration' },
  password: { addressMustBeBound: true, template: 'password_reset' },
  '3pid': { addressMustBeBound: false, template: 'add_threepid' },
});

/**
 * The message a delegated session's email uses: the homeserver that asked
 * does not say why, and adding an address to an account is what Dendrite
 * delegates it for.
 */
export const DELEGATED_TEMPLATE: EmailTemplate = 'add_threepid';

/** The email and the pages a session of this flow gets. */
export function templateOf(flow: SessionFlow): EmailTemplate {
  return flow === DELEGATED ? DELEGATED_TEMPLATE : FLOWS[flow].template;
}

export const FLOW_NAMES: readonly Flow[] = ['register', 'password', '3pid'];

export function isFlow(value: unknown): value is Flow {
  return typeof value === 'string' && (FLOW_NAMES as readonly string[]).includes(value);
}

/** The error a request for `flow` gets when the 3PID directory says otherwise (none when it agrees). */
export function flowRefusal(flow: Flow, bound: boolean): readonly [Errcode, string] | undefined {
  return bound === FLOWS[flow].addressMustBeBound ? undefined : refusalOf(flow);
}

/** The error a request for `flow` gets from a 3PID directory that disagrees. */
export function refusalOf(flow: Flow): readonly [Errcode, string] {
  return FLOWS[flow].addressMustBeBound
    ? ['M_THREEPID_NOT_FOUND', 'No account is associated with this address']
    : ['M_THREEPID_IN_USE', 'This address is already in use'];
}
