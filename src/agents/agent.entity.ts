import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type AgentRole = 'admin' | 'agent';
export const AGENT_ROLES: readonly AgentRole[] = ['admin', 'agent'];

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true })
  lastSeenAt: Date | null;
}
