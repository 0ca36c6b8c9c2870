import type { Channel } from '../store/outbox';
import type { Flow, Medium } from '../store/sessions';

/**
 * What the domain reports as it works, for the operator's view. The domain
 * calls these; it does not know what listens (Prometheus counters here).
 */
export interface ThreepidEvents {
  sessionCreated(medium: Medium, flow: Flow): void;
  sessionValidated(medium: Medium, flow: Flow): void;
  sessionsExpired(medium: Medium, flow: Flow, count: number): void;
  messageQueued(channel: Channel): void;
  rateLimited(rule: string): void;
}

export const noEvents: ThreepidEvents = {
  sessionCreated() {},
  sessionValidated() {},
  sessionsExpired() {},
  messageQueued() {},
  rateLimited() {},
};
