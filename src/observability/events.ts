import type { Channel } from '../store/outbox';
import type { Medium, SessionFlow } from '../store/sessions';

/**
 * What the domain reports as it works, for the operator's view. The domain
 * calls these; it does not know what listens (Prometheus counters here).
 */
export interface ThreepidEvents {
  sessionCreated(medium: Medium, flow: SessionFlow): void;
  sessionValidated(medium: Medium, flow: SessionFlow): void;
  sessionsExpired(medium: Medium, flow: SessionFlow, count: number): void;
  messageQueued(channel: Channel): void;
  rateLimited(rule: string): void;
  /** An address refused by the policy (`rule`: the rule's config key), at requestToken or when its session would prove it. */
  policyRefused(rule: string, medium: Medium, at: 'request' | 'proof'): void;
}

export const noEvents: ThreepidEvents = {
  sessionCreated() {},
  sessionValidated() {},
  sessionsExpired() {},
  messageQueued() {},
  rateLimited() {},
  policyRefused() {},
};
