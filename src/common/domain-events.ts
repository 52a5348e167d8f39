import type { Actor } from './actor';

/**
 * Domain events emitted by services. Each name is also its audit-event type: the audit module
 * records every one of them, and other modules (gateway, metrics) listen to the ones they need.
 */
export const AUDITED_EVENTS = [
  'jwt-issued',
  'auth-failed',
  'token-created',
  'token-revoked',
  'agent-created',
  'agent-updated',
  'sessions-revoked',
  'room-created',
  'room-updated',
  'room-archived',
  'member-added',
  'member-removed',
  'member-updated',
  'rate-limited',
] as const;

export type AuditedEventType = (typeof AUDITED_EVENTS)[number];

export interface DomainEvent {
  actor: Actor;
  targetType?: 'agent' | 'api_token' | 'room' | 'jwt';
  targetId?: string;
  /** Never a secret: no tokens, JWTs or hashes. */
  data?: Record<string, unknown>;
}
