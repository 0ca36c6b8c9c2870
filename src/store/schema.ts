import type { Generated } from 'kysely';

/** Table shapes. The only place outside `sql/` that knows them. */
export interface ThreepidSessionsTable {
  sid: string;
  client_secret_hash: string;
  medium: string;
  address: string;
  flow: string;
  next_link: string | null;
  send_attempt: number;
  token_hash: string;
  failed_attempts: Generated<number>;
  created_at: number;
  expires_at: number;
  validated_at: number | null;
  consumed_at: number | null;
  id_server: Generated<string | null>;
  language: Generated<string | null>;
  refused: Generated<number>;
}

export interface OutboxTable {
  id: string;
  channel: string;
  payload: string | null;
  status: string;
  attempts: Generated<number>;
  created_at: number;
  next_attempt_at: number;
  locked_until: Generated<number>;
  claim_token: Generated<string | null>;
  last_error: string | null;
  finished_at: number | null;
}

export interface ThreepidBindingsTable {
  medium: string;
  address: string;
  user_id: string;
  validated_at: number;
  added_at: number;
}

export interface RateLimitsTable {
  key: string;
  tokens: number;
  updated_at: number;
}

export interface Database {
  threepid_sessions: ThreepidSessionsTable;
  threepid_outbox: OutboxTable;
  threepid_bindings: ThreepidBindingsTable;
  threepid_rate_limits: RateLimitsTable;
}
