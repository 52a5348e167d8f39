import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { createHash } from 'node:crypto';
import { AgentsRepository } from '../agents/agents.repository';
import type { Actor, Principal } from '../common/actor';
import { AppError, notFound, pgErrorCode, PG_UNIQUE_VIOLATION } from '../common/errors';
import { UUID_PATTERN, uuidv7 } from '../common/uuid';
import type { RoomDto } from '../contracts/rest';
import { toRoomDto } from './rooms.mapper';
import { RoomsRepository } from './rooms.repository';

/** Direct rooms: exactly two agents, private, one per pair (DESIGN.md "Rooms and membership"). */
@Injectable()
export class DirectRoomsService {
  constructor(
    private readonly rooms: RoomsRepository,
    private readonly agents: AgentsRepository,
    private readonly events: EventEmitter2,
  ) {}

  /** The one direct room of a pair, whichever side asks; created on first use. */
  async openDirect(
    principal: Principal,
    otherId: string,
    actor: Actor,
  ): Promise<{ room: RoomDto; created: boolean }> {
    if (otherId === principal.agentId)
      throw new AppError('validation_failed', 'a direct room needs another agent');
    const other = UUID_PATTERN.test(otherId) ? await this.agents.findById(otherId) : null;
    if (!other || other.disabled) throw notFound('agent');
    const directKey = [principal.agentId, otherId].sort().join(':');
    const existing = await this.rooms.findByDirectKey(directKey);
    if (existing) return { room: toRoomDto(existing), created: false };
    try {
      const room = await this.rooms.createWithMembers(
        {
          id: uuidv7(),
          name: `dm-${createHash('sha256').update(directKey).digest('hex').slice(0, 40)}`,
          topic: null,
          visibility: 'private',
          kind: 'direct',
          directKey,
          createdBy: principal.agentId,
        },
        [
          { agentId: principal.agentId, role: 'member' },
          { agentId: otherId, role: 'member' },
        ],
      );
      await this.events.emitAsync('room-created', {
        actor,
        targetType: 'room',
        targetId: room.id,
        data: { kind: 'direct', agentIds: [principal.agentId, otherId] },
      });
      return { room: toRoomDto(room), created: true };
    } catch (error) {
      if (pgErrorCode(error) !== PG_UNIQUE_VIOLATION) throw error;
      // The other side opened it at the same moment: theirs is the room.
      const raced = await this.rooms.findByDirectKey(directKey);
      if (!raced) throw error;
      return { room: toRoomDto(raced), created: false };
    }
  }
}
