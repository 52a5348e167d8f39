import { Inject, Injectable } from '@nestjs/common';
import { AgentsRepository } from '../agents/agents.repository';
import type { Principal } from '../common/actor';
import type { PresenceEntry } from '../contracts/socket-events';
import { RoomsRepository } from '../rooms/rooms.repository';
import { RoomsService } from '../rooms/rooms.service';
import { PRESENCE_STORE, type PresenceStore } from './presence.store';

@Injectable()
export class PresenceService {
  constructor(
    @Inject(PRESENCE_STORE) private readonly store: PresenceStore,
    private readonly rooms: RoomsService,
    private readonly roomsRepository: RoomsRepository,
    private readonly agents: AgentsRepository,
  ) {}

  /** Returns true when the agent just came online in the room. */
  enter(roomId: string, agentId: string, socketId: string): Promise<boolean> {
    return this.store.add(roomId, agentId, socketId);
  }

  /** Returns true when the agent just went offline in the room. */
  leave(roomId: string, agentId: string, socketId: string): Promise<boolean> {
    return this.store.remove(roomId, agentId, socketId);
  }

  /** Members with their status, plus anyone online without membership (admins). */
  async list(principal: Principal, roomId: string): Promise<PresenceEntry[]> {
    await this.rooms.readable(principal, roomId);
    const [members, online] = await Promise.all([
      this.roomsRepository.listMembers(roomId),
      this.store.online(roomId),
    ]);
    const onlineSet = new Set(online);
    const entries: PresenceEntry[] = members.map((m) => ({
      agentId: m.agentId,
      name: m.name,
      status: onlineSet.has(m.agentId) ? 'online' : 'offline',
    }));
    const memberIds = new Set(members.map((m) => m.agentId));
    const visitors = online.filter((id) => !memberIds.has(id));
    for (const agent of await this.agents.findByIds(visitors)) {
      entries.push({ agentId: agent.id, name: agent.name, status: 'online' });
    }
    return entries;
  }

  get trackedEntries(): number {
    return this.store.size();
  }
}
