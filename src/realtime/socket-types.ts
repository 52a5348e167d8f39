import type { Server, Socket } from 'socket.io';
import type { Principal } from '../common/actor';
import type { ClientToServerEvents, ServerToClientEvents } from '../contracts/socket-events';

/** Serialisable per-socket state (the Redis adapter may ship it to other nodes). */
export interface SocketData {
  principal: Principal;
  ip: string;
  /** Room ids this socket is subscribed to. */
  rooms: string[];
}

/** Node-to-node events (serverSideEmit through the Redis adapter). */
export interface InterServerEvents {
  'member-removed': (roomId: string, agentId: string) => void;
}
export type AgentSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  SocketData
>;
export type AgentServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  SocketData
>;

/** socket.io room names: one per hub room, per agent and per API token (for targeted cut-offs). */
export const channel = {
  room: (roomId: string): string => `room:${roomId}`,
  agent: (agentId: string): string => `agent:${agentId}`,
  token: (tokenId: string): string => `token:${tokenId}`,
  jwt: (jti: string): string => `jwt:${jti}`,
};
