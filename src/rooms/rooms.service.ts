import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { AgentsRepository } from '../agents/agents.repository';
import type { Actor, Principal } from '../common/actor';
import type { DomainEvent } from '../common/domain-events';
import {
  AppError,
  forbidden,
  notFound,
  pgConstraint,
  pgErrorCode,
  PG_UNIQUE_VIOLATION,
} from '../common/errors';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor } from '../common/pagination';
import { UUID_PATTERN, uuidv7 } from '../common/uuid';
import type { Page, RoomDto, RoomMemberDto } from '../contracts/rest';
import type { CreateRoomDto, ListRoomsQueryDto, PutMemberDto, UpdateRoomDto } from './dto/room.dto';
import { roomAccess } from './room-access';
import type { RoomMemberEntity } from './room-member.entity';
import type { RoomEntity } from './room.entity';
import { toRoomDto, toRoomMemberDto } from './rooms.mapper';
import { RoomsRepository } from './rooms.repository';

export interface RoomContext {
  room: RoomEntity;
  member: RoomMemberEntity | null;
}

export interface MemberRemovedEvent extends DomainEvent {
  targetId: string;
  data: { agentId: string };
}

@Injectable()
export class RoomsService {
  constructor(
    private readonly rooms: RoomsRepository,
    private readonly agents: AgentsRepository,
    private readonly events: EventEmitter2,
  ) {}

  async create(principal: Principal, input: CreateRoomDto, actor: Actor): Promise<RoomDto> {
    const room = await this.insertRoom(
      {
        id: uuidv7(),
        name: input.name,
        topic: input.topic ?? null,
        visibility: input.visibility ?? 'public',
        kind: 'group',
        directKey: null,
        createdBy: principal.agentId,
      },
      [{ agentId: principal.agentId, role: 'owner' }],
    );
    await this.emit('room-created', {
      actor,
      targetType: 'room',
      targetId: room.id,
      data: { name: room.name, visibility: room.visibility, kind: room.kind },
    });
    return toRoomDto(room);
  }

  async get(principal: Principal, roomId: string): Promise<RoomDto> {
    return toRoomDto((await this.readable(principal, roomId)).room);
  }

  async list(principal: Principal, query: ListRoomsQueryDto): Promise<Page<RoomDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor, (key) => UUID_PATTERN.test(key));
    const rows = await this.rooms.listVisible({
      agentId: principal.agentId,
      all: principal.role === 'admin',
      includeArchived: query.includeArchived ?? false,
      after,
      limit: limit + 1,
    });
    const items = rows.slice(0, limit).map(toRoomDto);
    return {
      items,
      nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1].id) : null,
    };
  }

  async update(
    principal: Principal,
    roomId: string,
    patch: UpdateRoomDto,
    actor: Actor,
  ): Promise<RoomDto> {
    const { room } = await this.manageable(principal, roomId);
    const changes = (Object.keys(patch) as Array<keyof UpdateRoomDto>).filter(
      (key) => patch[key] !== undefined,
    );
    if (changes.length === 0) return toRoomDto(room);
    if (room.kind === 'direct') throw new AppError('conflict', 'direct rooms cannot be changed');
    try {
      await this.rooms.update(roomId, patch);
    } catch (error) {
      throw this.nameConflict(error, patch.name);
    }
    await this.emit('room-updated', {
      actor,
      targetType: 'room',
      targetId: roomId,
      data: { changes },
    });
    return toRoomDto((await this.rooms.findById(roomId))!);
  }

  async archive(principal: Principal, roomId: string, actor: Actor): Promise<RoomDto> {
    await this.manageable(principal, roomId);
    if (await this.rooms.archive(roomId)) {
      await this.emit('room-archived', { actor, targetType: 'room', targetId: roomId });
    }
    return toRoomDto((await this.rooms.findById(roomId))!);
  }

  async listMembers(principal: Principal, roomId: string): Promise<RoomMemberDto[]> {
    await this.readable(principal, roomId);
    return (await this.rooms.listMembers(roomId)).map(toRoomMemberDto);
  }

  /** Owners and admins add anyone; any agent may add itself to a public group room. */
  async putMember(
    principal: Principal,
    roomId: string,
    agentId: string,
    input: PutMemberDto,
    actor: Actor,
  ): Promise<RoomMemberDto> {
    const context = await this.readable(principal, roomId);
    const { room } = context;
    const selfJoin =
      agentId === principal.agentId &&
      room.visibility === 'public' &&
      room.kind === 'group' &&
      !input.role;
    if (!selfJoin && !roomAccess.canManage(principal, context.member))
      throw forbidden('only room owners and admins manage members');
    if (room.kind === 'direct')
      throw new AppError('conflict', 'direct rooms always hold exactly their two agents');
    if (room.archivedAt) throw new AppError('conflict', 'room is archived');
    const agent = UUID_PATTERN.test(agentId) ? await this.agents.findById(agentId) : null;
    if (!agent) throw notFound('agent');
    const before = await this.rooms.findMember(roomId, agentId);
    const added = await this.rooms.upsertMember(roomId, agentId, input.role ?? null);
    if (added) {
      await this.emit('member-added', {
        actor,
        targetType: 'room',
        targetId: roomId,
        data: { agentId, role: input.role ?? 'member' },
      });
    } else if (input.role && before && before.role !== input.role) {
      await this.emit('member-updated', {
        actor,
        targetType: 'room',
        targetId: roomId,
        data: { agentId, role: input.role, previousRole: before.role },
      });
    }
    const member = (await this.rooms.listMembers(roomId)).find((m) => m.agentId === agentId)!;
    return toRoomMemberDto(member);
  }

  /** Owners and admins remove anyone; an agent may always leave. */
  async removeMember(
    principal: Principal,
    roomId: string,
    agentId: string,
    actor: Actor,
  ): Promise<void> {
    const context = await this.readable(principal, roomId);
    if (agentId !== principal.agentId && !roomAccess.canManage(principal, context.member)) {
      throw forbidden('only room owners and admins remove other members');
    }
    if (context.room.kind === 'direct')
      throw new AppError('conflict', 'direct rooms always hold exactly their two agents');
    if (!UUID_PATTERN.test(agentId) || !(await this.rooms.removeMember(roomId, agentId))) {
      throw notFound('member');
    }
    const event: MemberRemovedEvent = {
      actor,
      targetType: 'room',
      targetId: roomId,
      data: { agentId },
    };
    await this.emit('member-removed', event);
  }

  /** socket.io `room:join`: checks access and makes the agent a member of a public room. */
  async join(principal: Principal, roomId: string, actor: Actor): Promise<RoomContext> {
    const context = await this.load(roomId, principal.agentId);
    if (!roomAccess.canJoin(principal, context.room, context.member)) {
      throw context.room.visibility === 'private' && !context.member
        ? notFound('room')
        : forbidden('you are not a member of this room');
    }
    if (
      !context.member &&
      context.room.visibility === 'public' &&
      context.room.kind === 'group' &&
      !context.room.archivedAt
    ) {
      if (await this.rooms.addMemberIfAbsent(roomId, principal.agentId)) {
        await this.emit('member-added', {
          actor,
          targetType: 'room',
          targetId: roomId,
          data: { agentId: principal.agentId, role: 'member', via: 'join' },
        });
      }
      context.member = await this.rooms.findMember(roomId, principal.agentId);
    }
    return context;
  }

  /** The room if this principal may read it; private rooms of others are reported as not found. */
  async readable(principal: Principal, roomId: string): Promise<RoomContext> {
    const context = await this.load(roomId, principal.agentId);
    if (!roomAccess.canRead(principal, context.room, context.member)) throw notFound('room');
    return context;
  }

  private async manageable(principal: Principal, roomId: string): Promise<RoomContext> {
    const context = await this.readable(principal, roomId);
    if (!roomAccess.canManage(principal, context.member))
      throw forbidden('only room owners and admins manage a room');
    return context;
  }

  private async load(roomId: string, agentId: string): Promise<RoomContext> {
    const found = UUID_PATTERN.test(roomId)
      ? await this.rooms.findWithMember(roomId, agentId)
      : null;
    if (!found) throw notFound('room');
    return found;
  }

  private async insertRoom(
    room: Parameters<RoomsRepository['createWithMembers']>[0],
    members: Parameters<RoomsRepository['createWithMembers']>[1],
  ): Promise<RoomEntity> {
    try {
      return await this.rooms.createWithMembers(room, members);
    } catch (error) {
      throw this.nameConflict(error, room.name);
    }
  }

  private nameConflict(error: unknown, name: string | undefined): unknown {
    if (pgErrorCode(error) === PG_UNIQUE_VIOLATION && pgConstraint(error) === 'rooms_name_key') {
      return new AppError('conflict', `a room named "${name}" already exists`);
    }
    return error;
  }

  private async emit(type: string, event: DomainEvent): Promise<void> {
    await this.events.emitAsync(type, event);
  }
}
