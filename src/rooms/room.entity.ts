import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type RoomVisibility = 'public' | 'private';
export type RoomKind = 'group' | 'direct';

@Entity({ name: 'rooms' })
export class RoomEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', nullable: true })
  topic: string | null;

  @Column({ type: 'text' })
  visibility: RoomVisibility;

  @Column({ type: 'text' })
  kind: RoomKind;

  @Column({ name: 'direct_key', type: 'text', nullable: true, select: false })
  directKey: string | null;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'archived_at', type: 'timestamptz', nullable: true })
  archivedAt: Date | null;

  /** bigint in PostgreSQL; per-room counts stay far below 2^53. */
  @Column({
    name: 'last_seq',
    type: 'bigint',
    default: 0,
    transformer: { to: (v: number) => v, from: Number },
  })
  lastSeq: number;
}
