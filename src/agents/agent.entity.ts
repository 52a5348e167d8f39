import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type AgentRole = 'admin' | 'agent';
export const AGENT_ROLES: readonly AgentRole[] = ['admin', 'agent'];

export interface AgentRateLimits {
  restPerMinute?: number;
  wsEventsPerSecond?: number;
}

@Entity({ name: 'agents' })
export class AgentEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'display_name', type: 'text', nullable: true })
  displayName: string | null;

  @Column({ type: 'text' })
  role: AgentRole;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  metadata: Record<string, unknown>;

  /** Per-agent overrides of the configured limits; null means the defaults. */
  @Column({ name: 'rate_limits', type: 'jsonb', nullable: true })
  rateLimits: AgentRateLimits | null;

  /** JWTs issued before this moment are no longer accepted (POST /v1/agents/:id/revoke-sessions). */
  @Column({ name: 'sessions_revoked_at', type: 'timestamptz', nullable: true, select: false })
  sessionsRevokedAt?: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true })
  lastSeenAt: Date | null;
}
