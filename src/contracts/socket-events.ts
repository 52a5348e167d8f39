import type { ErrorDto, MessageDto, RoomDto } from './rest';

/**
 * The socket.io protocol (default namespace), shared by the gateway, the tests, the example agent
 * and client SDKs: `io(url, { auth: { token: jwt } }) as Socket<ServerToClientEvents, ClientToServerEvents>`.
 */
export type WsError = Omit<ErrorDto, 'statusCode'>;
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type Ack<T extends object = {}> = (response: AckResponse<T>) => void;
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type AckResponse<T extends object = {}> = ({ ok: true } & T) | { ok: false; error: WsError };

export interface RoomJoinPayload {
  roomId: string;
  /** The last seq this client has seen; the ack carries what came after it. */
  sinceSeq?: number;
}
export interface RoomJoinResult {
  room: RoomDto;
  missed: MessageDto[];
  /** More than `missed` came after sinceSeq: join again with the last seq, or page the history. */
  hasMore: boolean;
}
export interface RoomLeavePayload {
  roomId: string;
}
export interface MessageSendPayload {
  roomId: string;
  body: string;
  data?: Record<string, unknown>;
  replyTo?: string;
  clientMsgId?: string;
}
export interface MessageSendResult {
  message: MessageDto;
}
export interface PresenceListPayload {
  roomId: string;
}
export interface PresenceEntry {
  agentId: string;
  name: string;
  status: 'online' | 'offline';
}
export interface PresenceListResult {
  agents: PresenceEntry[];
}
export interface TypingPayload {
  roomId: string;
}
export interface AuthRefreshPayload {
  token: string;
}
export interface AuthRefreshResult {
  expiresAt: string;
}

export interface ClientToServerEvents {
  'room:join': (payload: RoomJoinPayload, ack: Ack<RoomJoinResult>) => void;
  'room:leave': (payload: RoomLeavePayload, ack: Ack) => void;
  'message:send': (payload: MessageSendPayload, ack: Ack<MessageSendResult>) => void;
  'presence:list': (payload: PresenceListPayload, ack: Ack<PresenceListResult>) => void;
  typing: (payload: TypingPayload, ack?: Ack) => void;
  'auth:refresh': (payload: AuthRefreshPayload, ack: Ack<AuthRefreshResult>) => void;
}

export interface PresenceUpdate {
  roomId: string;
  agentId: string;
  status: 'online' | 'offline';
}
export interface TypingNotice {
  roomId: string;
  agentId: string;
}
export interface ShutdownNotice {
  reconnectInMs: number;
}

export interface ServerToClientEvents {
  'message:new': (message: MessageDto) => void;
  'presence:update': (update: PresenceUpdate) => void;
  typing: (notice: TypingNotice) => void;
  error: (error: WsError) => void;
  'server:shutdown': (notice: ShutdownNotice) => void;
}

/** Names of the client events, for code that needs them as values. */
export const CLIENT_EVENTS = [
  'room:join',
  'room:leave',
  'message:send',
  'presence:list',
  'typing',
  'auth:refresh',
] as const;
