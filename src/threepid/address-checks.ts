import type { Medium, SessionFlow } from '../model';
import { purposesOf, type AddressPolicy } from '../policy/address-policy';
import type { ThreepidEvents } from '../observability/events';
import { ThreepidError } from './errors';

/** Synapse's two switches, as the domain reads them. */
export interface PolicySwitches {
  /** `disable_msisdn_registration`: phone numbers cannot register. */
  readonly disableMsisdnRegistration: boolean;
  /** `enable_3pid_changes`: false, and addresses are neither added nor deleted. */
  readonly enable3pidChanges: boolean;
}

/** Where a refusal happened: at requestToken, or when a session would prove its address (the policy changed since). */
export type CheckPoint = 'request' | 'proof';

/** Synapse's answer when 3PID changes are disabled, with its status. */
export function threepidChangesDisabled(): ThreepidError {
  return new ThreepidError('M_FORBIDDEN', '3PID changes are disabled on this server', {}, { status: 400 });
}

/**
 * The address policy, applied where an address is asked for and again
 * where a session proves it: a session started under an older, looser
 * policy proves nothing the current one refuses. Every refusal is counted
 * by the rule that made it, never by address; the answer names no rule.
 */
export class AddressChecks {
  constructor(
    private readonly policy: AddressPolicy | undefined,
    private readonly switches: PolicySwitches,
    private readonly events: ThreepidEvents,
  ) {}

  /** The switches, which need no address: checked before the body is read. */
  checkFlow(flow: SessionFlow, medium: Medium, at: CheckPoint): void {
    if (flow === '3pid' && !this.switches.enable3pidChanges) {
      this.events.policyRefused('enable_3pid_changes', medium, at);
      throw threepidChangesDisabled();
    }
    if (flow === 'register' && medium === 'msisdn' && this.switches.disableMsisdnRegistration) {
      this.events.policyRefused('disable_msisdn_registration', medium, at);
      throw new ThreepidError('M_THREEPID_MEDIUM_NOT_SUPPORTED', 'Phone numbers cannot be used to register on this server');
    }
  }

  /** The address rules, for the purposes a session of `flow` serves: `403 M_THREEPID_DENIED`. */
  checkAddress(flow: SessionFlow, medium: Medium, address: string, at: CheckPoint): void {
    const rule = this.policy?.refusal(medium, address, purposesOf(flow));
    if (rule === undefined) return;
    this.events.policyRefused(rule, medium, at);
    throw new ThreepidError(
      'M_THREEPID_DENIED',
      medium === 'email' ? 'This server does not accept this email address' : 'This server does not accept this phone number',
    );
  }

  /** Both, for a session about to prove its address. */
  checkSession(session: { readonly flow: SessionFlow; readonly medium: Medium; readonly address: string }): void {
    this.checkFlow(session.flow, session.medium, 'proof');
    this.checkAddress(session.flow, session.medium, session.address, 'proof');
  }
}
