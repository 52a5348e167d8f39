import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { QueryConfig, QueryResultRow } from 'pg';
import { DataSource, EntityManager, IsNull, Repository } from 'typeorm';
import { pgPool, queryRows } from '../database/pg-pool';
import { MemberRole, RoomMemberEntity } from './room-member.entity';
import { RoomEntity, type RoomKind, type RoomVisibility } from './room.entity';

export interface MemberWithName extends RoomMemberEntity {
  name: string;
}

interface RoomWithMemberRow extends QueryResultRow {
  id: string;
  name: string;
  topic: string | null;
  visibility: RoomVisibility;
  kind: RoomKind;
  created_by: string | null;
  created_at: Date;
  archived_at: Date | null;
  last_seq: string;
  member_role: MemberRole | null;
  joined_at: Date | null;
  last_read_seq: string | null;
}

const ROOM_WITH_MEMBER: QueryConfig = {
  name: 'agenthub_room_with_member',
  text: `SELECT r.id, r.name, r.topic, r.visibility, r.kind, r.created_by, r.created_at, r.archived_at, r.last_seq,
                m.role AS member_role, m.joined_at, m.last_read_seq
           FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id AND m.agent_id = $2
          WHERE r.id = $1`,
};

@Injectable()
export class RoomsRepository {
  private readonly rooms: Repository<RoomEntity>;
  private readonly members: Repository<RoomMemberEntity>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.rooms = dataSource.getRepository(RoomEntity);
    this.members = dataSource.getRepository(RoomMemberEntity);
  }

  /** Creates the room and its first members in one transaction. */
  async createWithMembers(
    room: Pick<
      RoomEntity,
      'id' | 'name' | 'topic' | 'visibility' | 'kind' | 'directKey' | 'createdBy'
    >,
    members: Array<{ agentId: string; role: MemberRole }>,
  ): Promise<RoomEntity> {
    await this.dataSource.transaction(async (tx: EntityManager) => {
      await tx.getRepository(RoomEntity).insert(room);
      if (members.length > 0) {
        await tx
          .getRepository(RoomMemberEntity)
          .insert(members.map((m) => ({ roomId: room.id, agentId: m.agentId, role: m.role })));
      }
    });
    return (await this.findById(room.id))!;
  }

  findById(id: string): Promise<RoomEntity | null> {
    return this.rooms.findOneBy({ id });
  }

  findByDirectKey(directKey: string): Promise<RoomEntity | null> {
    return this.rooms
      .createQueryBuilder('r')
      .where('r.direct_key = :directKey', { directKey })
      .getOne();
  }

  /** Rooms an agent may see (public ones and its own), or all rooms for admins; by id, after cursor. */
  listVisible(options: {
    agentId: string;
    all: boolean;
    includeArchived: boolean;
    after?: string;
    limit: number;
  }): Promise<RoomEntity[]> {
    const query = this.rooms.createQueryBuilder('r').orderBy('r.id', 'ASC').limit(options.limit);
    if (!options.all) {
      query.andWhere(
        "(r.visibility = 'public' OR EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.agent_id = :agentId))",
        { agentId: options.agentId },
      );
    }
    if (!options.includeArchived) query.andWhere('r.archived_at IS NULL');
    if (options.after) query.andWhere('r.id > :after', { after: options.after });
    return query.getMany();
  }

  async update(
    id: string,
    patch: Partial<Pick<RoomEntity, 'name' | 'topic' | 'visibility'>>,
  ): Promise<void> {
    await this.rooms.update({ id }, patch);
  }

  /** Sets archived_at once; returns false when it was already archived. */
  async archive(id: string): Promise<boolean> {
    const result = await this.rooms.update(
      { id, archivedAt: IsNull() },
      { archivedAt: () => 'now()' },
    );
    return (result.affected ?? 0) > 0;
  }

  /** The room and this agent's membership in it, in one prepared query (every room request). */
  async findWithMember(
    roomId: string,
    agentId: string,
  ): Promise<{ room: RoomEntity; member: RoomMemberEntity | null } | null> {
    const rows = await queryRows<RoomWithMemberRow>(pgPool(this.dataSource), ROOM_WITH_MEMBER, [
      roomId,
      agentId,
    ]);
    const row = rows[0];
    if (!row) return null;
    const room: RoomEntity = {
      id: row.id,
      name: row.name,
      topic: row.topic,
      visibility: row.visibility,
      kind: row.kind,
      directKey: null,
      createdBy: row.created_by,
      createdAt: row.created_at,
      archivedAt: row.archived_at,
      lastSeq: Number(row.last_seq),
    };
    const member: RoomMemberEntity | null = row.member_role
      ? {
          roomId: row.id,
          agentId,
          role: row.member_role,
          joinedAt: row.joined_at!,
          lastReadSeq: Number(row.last_read_seq),
        }
      : null;
    return { room, member };
  }

  findMember(roomId: string, agentId: string): Promise<RoomMemberEntity | null> {
    return this.members.findOneBy({ roomId, agentId });
  }

  async listMembers(roomId: string): Promise<MemberWithName[]> {
    const rows: Array<{
      room_id: string;
      agent_id: string;
      role: MemberRole;
      joined_at: Date;
      last_read_seq: string;
      name: string;
    }> = await this.dataSource.query(
      `SELECT m.room_id, m.agent_id, m.role, m.joined_at, m.last_read_seq, a.name
           FROM room_members m JOIN agents a ON a.id = m.agent_id
          WHERE m.room_id = $1 ORDER BY m.joined_at, m.agent_id`,
      [roomId],
    );
    return rows.map((r) => ({
      roomId: r.room_id,
      agentId: r.agent_id,
      role: r.role,
      joinedAt: r.joined_at,
      lastReadSeq: Number(r.last_read_seq),
      name: r.name,
    }));
  }

  /** Adds the member, or changes its role; returns whether it was newly added. */
  /**
   * Adds the member (as `role`, default member), or changes an existing member's role when `role`
   * is given; an existing member keeps its role otherwise. Returns whether it was newly added.
   */
  async upsertMember(roomId: string, agentId: string, role: MemberRole | null): Promise<boolean> {
    const rows: Array<{ inserted: boolean }> = await this.dataSource.query(
      `INSERT INTO room_members (room_id, agent_id, role) VALUES ($1, $2, COALESCE($3, 'member'))
       ON CONFLICT (room_id, agent_id) DO UPDATE SET role = COALESCE($3, room_members.role)
       RETURNING (xmax = 0) AS inserted`,
      [roomId, agentId, role],
    );
    return rows[0].inserted;
  }

  /** Adds a plain member if absent (joining a public room); returns whether it was added. */
  async addMemberIfAbsent(roomId: string, agentId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO room_members (room_id, agent_id, role) VALUES ($1, $2, 'member')
       ON CONFLICT (room_id, agent_id) DO NOTHING RETURNING agent_id`,
      [roomId, agentId],
    );
    return rows.length > 0;
  }

  async removeMember(roomId: string, agentId: string): Promise<boolean> {
    const result = await this.members.delete({ roomId, agentId });
    return (result.affected ?? 0) > 0;
  }
}
