import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { generateApiToken, apiTokenPrefix, hashApiToken } from '../auth/api-token';
import type { Actor } from '../common/actor';
import type { DomainEvent } from '../common/domain-events';
import {
  AppError,
  notFound,
  pgConstraint,
  pgErrorCode,
  PG_UNIQUE_VIOLATION,
} from '../common/errors';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor } from '../common/pagination';
import { UUID_PATTERN, uuidv7 } from '../common/uuid';
import type { AgentDto, ApiTokenDto, CreatedApiTokenDto, Page } from '../contracts/rest';
import type { AgentEntity, AgentRole } from './agent.entity';
import { toAgentDto, toApiTokenDto } from './agents.mapper';
import { AgentsRepository } from './agents.repository';
import { ApiTokensRepository } from './api-tokens.repository';
import type { CreateAgentDto, CreateApiTokenDto, UpdateAgentDto } from './dto/agent.dto';

export interface AgentUpdatedEvent extends DomainEvent {
  targetId: string;
  data: { changes: string[]; disabled: boolean; role: AgentRole };
}

@Injectable()
export class AgentsService {
  constructor(
    private readonly agents: AgentsRepository,
    private readonly tokens: ApiTokensRepository,
    private readonly events: EventEmitter2,
  ) {}

  async create(input: CreateAgentDto, actor: Actor): Promise<AgentDto> {
    const agent = await this.insertAgent({
      id: uuidv7(),
      name: input.name,
      displayName: input.displayName ?? null,
      role: input.role ?? 'agent',
      disabled: false,
      metadata: input.metadata ?? {},
    });
    await this.emit('agent-created', {
      actor,
      targetType: 'agent',
      targetId: agent.id,
      data: { name: agent.name, role: agent.role },
    });
    return toAgentDto(agent);
  }

  async get(id: string): Promise<AgentDto> {
    return toAgentDto(await this.require(id));
  }

  async list(cursor: string | undefined, limit = DEFAULT_PAGE_SIZE): Promise<Page<AgentDto>> {
    const after = decodeCursor(cursor, (key) => UUID_PATTERN.test(key));
    const rows = await this.agents.listAfter(after, limit + 1);
    const items = rows.slice(0, limit).map(toAgentDto);
    return {
      items,
      nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1].id) : null,
    };
  }

  async update(id: string, patch: UpdateAgentDto, actor: Actor): Promise<AgentDto> {
    const before = await this.require(id);
    const changes = (Object.keys(patch) as Array<keyof UpdateAgentDto>).filter(
      (key) => patch[key] !== undefined,
    );
    if (changes.length === 0) return toAgentDto(before);
    if (actor.agentId === id && (patch.disabled === true || patch.role === 'agent')) {
      throw new AppError('conflict', 'an admin cannot disable or demote itself');
    }
    const { rateLimits, ...rest } = patch;
    await this.agents.update(
      id,
      rateLimits === undefined
        ? rest
        : { ...rest, rateLimits: rateLimits ? { ...rateLimits } : null },
    );
    const after = await this.require(id);
    const event: AgentUpdatedEvent = {
      actor,
      targetType: 'agent',
      targetId: id,
      data: { changes, disabled: after.disabled, role: after.role },
    };
    await this.emit('agent-updated', event);
    return toAgentDto(after);
  }

  async createToken(
    agentId: string,
    input: CreateApiTokenDto,
    actor: Actor,
  ): Promise<CreatedApiTokenDto> {
    await this.require(agentId);
    const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new AppError('validation_failed', 'expiresAt must be in the future', [
        { field: 'expiresAt', problems: ['must be in the future'] },
      ]);
    }
    const { token, row } = await this.issueToken(agentId, input.name, expiresAt);
    await this.emit('token-created', {
      actor,
      targetType: 'api_token',
      targetId: row.id,
      data: {
        agentId,
        name: row.name,
        prefix: row.prefix,
        expiresAt: row.expiresAt?.toISOString() ?? null,
      },
    });
    return { ...toApiTokenDto(row), token };
  }

  async listTokens(agentId: string): Promise<ApiTokenDto[]> {
    await this.require(agentId);
    return (await this.tokens.listByAgent(agentId)).map(toApiTokenDto);
  }

  async revokeToken(tokenId: string, actor: Actor): Promise<ApiTokenDto> {
    const existing = UUID_PATTERN.test(tokenId) ? await this.tokens.findById(tokenId) : null;
    if (!existing) throw notFound('api token');
    const revoked = await this.tokens.revoke(tokenId);
    if (!revoked) throw notFound('api token');
    if (!existing.revokedAt) {
      await this.emit('token-revoked', {
        actor,
        targetType: 'api_token',
        targetId: tokenId,
        data: { agentId: revoked.agentId, prefix: revoked.prefix },
      });
    }
    return toApiTokenDto(revoked);
  }

  /** Used by the bootstrap: an agent and a token without audit actor checks. */
  async issueToken(
    agentId: string,
    name: string,
    expiresAt: Date | null,
    token = generateApiToken(),
  ) {
    const row = await this.tokens.insert({
      id: uuidv7(),
      agentId,
      name,
      prefix: apiTokenPrefix(token),
      tokenHash: hashApiToken(token),
      expiresAt,
    });
    return { token, row };
  }

  async insertAgent(
    agent: Omit<AgentEntity, 'createdAt' | 'lastSeenAt' | 'rateLimits'>,
  ): Promise<AgentEntity> {
    try {
      return await this.agents.insert(agent);
    } catch (error) {
      if (pgErrorCode(error) === PG_UNIQUE_VIOLATION && pgConstraint(error) === 'agents_name_key') {
        throw new AppError('conflict', `an agent named "${agent.name}" already exists`);
      }
      throw error;
    }
  }

  private async require(id: string): Promise<AgentEntity> {
    const agent = UUID_PATTERN.test(id) ? await this.agents.findById(id) : null;
    if (!agent) throw notFound('agent');
    return agent;
  }

  private async emit(type: string, event: DomainEvent): Promise<void> {
    await this.events.emitAsync(type, event);
  }
}
