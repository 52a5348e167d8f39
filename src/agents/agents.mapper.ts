import type { AgentDto, ApiTokenDto } from '../contracts/rest';
import type { AgentEntity } from './agent.entity';
import type { ApiTokenEntity } from './api-token.entity';

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function toAgentDto(agent: AgentEntity): AgentDto {
  return {
    id: agent.id,
    name: agent.name,
    displayName: agent.displayName,
    role: agent.role,
    disabled: agent.disabled,
    metadata: agent.metadata,
    rateLimits: agent.rateLimits,
    createdAt: agent.createdAt.toISOString(),
    lastSeenAt: iso(agent.lastSeenAt),
  };
}

export function toApiTokenDto(token: ApiTokenEntity): ApiTokenDto {
  return {
    id: token.id,
    agentId: token.agentId,
    name: token.name,
    prefix: token.prefix,
    createdAt: token.createdAt.toISOString(),
    expiresAt: iso(token.expiresAt),
    lastUsedAt: iso(token.lastUsedAt),
    revokedAt: iso(token.revokedAt),
  };
}
