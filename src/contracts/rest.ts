/**
 * Response shapes of the REST API, as plain types an SDK can import without pulling in the
 * server (`import type { MessageDto } from 'agenthub/contracts'`). Timestamps are ISO-8601 strings.
 */
export type AgentRoleName = 'admin' | 'agent';

export interface AgentDto {
  id: string;
  name: string;
  displayName: string | null;
  role: AgentRoleName;
  disabled: boolean;
  metadata: Record<string, unknown>;
  /** Per-agent limit overrides set by an admin; null: the configured defaults apply. */
  rateLimits: { restPerMinute?: number; wsEventsPerSecond?: number } | null;
  createdAt: string;
  lastSeenAt: string | null;
}

export interface ApiTokenDto {
  id: string;
  agentId: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Returned once, at creation: the only time the token itself is shown. */
export interface CreatedApiTokenDto extends ApiTokenDto {
  token: string;
}

export interface AccessTokenDto {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface MeDto extends AgentDto {
  auth: { method: 'jwt' | 'api_token'; expiresAt: string | null };
}

export interface AuditEventDto {
  id: string;
  type: string;
  agentId: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  requestId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
  prevHash: string;
  hash: string;
}

export interface RoomDto {
  id: string;
  name: string;
  topic: string | null;
  visibility: 'public' | 'private';
  kind: 'group' | 'direct';
  createdBy: string | null;
  createdAt: string;
  archivedAt: string | null;
  lastSeq: number;
}

export interface RoomMemberDto {
  roomId: string;
  agentId: string;
  name: string;
  role: 'owner' | 'member';
  joinedAt: string;
  lastReadSeq: number;
}

export interface MessageDto {
  id: string;
  roomId: string;
  seq: number;
  senderId: string;
  body: string;
  data: Record<string, unknown> | null;
  replyTo: string | null;
  clientMsgId: string | null;
  createdAt: string;
}

export interface PresenceDto {
  agentId: string;
  name: string;
  status: 'online' | 'offline';
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface MessagePage {
  items: MessageDto[];
  hasMore: boolean;
}

export interface ErrorDto {
  statusCode?: number;
  code:
    | 'validation_failed'
    | 'unauthorized'
    | 'forbidden'
    | 'not_found'
    | 'conflict'
    | 'payload_too_large'
    | 'rate_limited'
    | 'internal'
    | 'unavailable';
  message: string;
  details?: unknown;
}
