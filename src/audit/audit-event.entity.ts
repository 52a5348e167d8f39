import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Append-only; `prev_hash`/`hash` are computed by the database trigger, never by the app. */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  /** Drawn from audit_events_id_seq by the chain trigger. */
  @PrimaryColumn({ type: 'bigint', insert: false })
  id: string;

  @Column({ type: 'text' })
  type: string;

  @Column({ name: 'agent_id', type: 'uuid', nullable: true })
  agentId: string | null;

  @Column({ name: 'target_type', type: 'text', nullable: true })
  targetType: string | null;

  @Column({ name: 'target_id', type: 'text', nullable: true })
  targetId: string | null;

  @Column({ type: 'text', nullable: true })
  ip: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  data: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false })
  createdAt: Date;

  @Column({ name: 'prev_hash', type: 'text', insert: false })
  prevHash: string;

  @Column({ type: 'text', insert: false })
  hash: string;
}
