import type { RoomDto, RoomMemberDto } from '../contracts/rest';
import type { RoomEntity } from './room.entity';
import type { MemberWithName } from './rooms.repository';

export function toRoomDto(room: RoomEntity): RoomDto {
  return {
    id: room.id,
    name: room.name,
    topic: room.topic,
    visibility: room.visibility,
    kind: room.kind,
    createdBy: room.createdBy,
    createdAt: room.createdAt.toISOString(),
    archivedAt: room.archivedAt ? room.archivedAt.toISOString() : null,
    lastSeq: room.lastSeq,
  };
}

export function toRoomMemberDto(member: MemberWithName): RoomMemberDto {
  return {
    roomId: member.roomId,
    agentId: member.agentId,
    name: member.name,
    role: member.role,
    joinedAt: member.joinedAt.toISOString(),
    lastReadSeq: member.lastReadSeq,
  };
}
