import type { Principal } from '../common/actor';
import type { RoomMemberEntity } from './room-member.entity';
import type { RoomEntity } from './room.entity';

/** Who may do what in a room (DESIGN.md "Rooms and membership"): pure, so it is unit-testable. */
export const roomAccess = {
  /** See the room, its members and its history. Private rooms are invisible to outsiders. */
  canRead(principal: Principal, room: RoomEntity, member: RoomMemberEntity | null): boolean {
    return principal.role === 'admin' || room.visibility === 'public' || member !== null;
  },
  /** Subscribe to it over socket.io; joining a public room makes the agent a member. */
  canJoin(principal: Principal, room: RoomEntity, member: RoomMemberEntity | null): boolean {
    return (
      principal.role === 'admin' ||
      member !== null ||
      (room.visibility === 'public' && room.kind === 'group')
    );
  },
  /** Rename, change topic or visibility, archive, add and remove members. */
  canManage(principal: Principal, member: RoomMemberEntity | null): boolean {
    return principal.role === 'admin' || member?.role === 'owner';
  },
};
