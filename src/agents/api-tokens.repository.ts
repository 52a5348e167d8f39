import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AgentEntity } from './agent.entity';
import { ApiTokenEntity } from './api-token.entity';

export interface TokenWithAgent {
  token: ApiTokenEntity;
  agent: AgentEntity;
}

const TOUCH_EVERY_MS = 60_000;
const MAX_REMEMBERED_TOUCHES = 10_000;

@Injectable()
export class ApiTokensRepository {
  private readonly tokens: Repository<ApiTokenEntity>;
  private readonly recentTouches = new Map<string, number>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.tokens = dataSource.getRepository(ApiTokenEntity);
  }

  async insert(
    token: Omit<ApiTokenEntity, 'createdAt' | 'lastUsedAt' | 'revokedAt'>,
  ): Promise<ApiTokenEntity> {
    await this.tokens.insert(token);
    const created = await this.findById(token.id);
    if (!created) throw new Error(`api token ${token.id} vanished after insert`);
    return created;
  }

  findById(id: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findOneBy({ id });
  }

  listByAgent(agentId: string): Promise<ApiTokenEntity[]> {
    return this.tokens.find({ where: { agentId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** The token with this hash and its agent, whatever their state (one query); callers decide. */
  async findByHash(hash: Buffer): Promise<TokenWithAgent | null> {
    const token = await this.tokens
      .createQueryBuilder('t')
      .innerJoinAndMapOne('t.agent', AgentEntity, 'a', 'a.id = t.agent_id')
      .where('t.token_hash = :hash', { hash })
      .getOne();
    if (!token) return null;
    const { agent, ...row } = token as ApiTokenEntity & { agent: AgentEntity };
    return { token: row, agent };
  }

  /** Marks the token revoked; returns it, or null when it does not exist. Idempotent. */
  async revoke(id: string): Promise<ApiTokenEntity | null> {
    await this.tokens
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()' })
      .where('id = :id AND revoked_at IS NULL', { id })
      .execute();
    return this.findById(id);
  }

  /**
   * Updates last_used_at at most once a minute per token, so auth does not write on every call:
   * this process remembers its recent touches (bounded), and the statement itself skips rows
   * touched within the minute by other nodes.
   */
  async touchLastUsed(id: string, now = Date.now()): Promise<void> {
    const last = this.recentTouches.get(id);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    if (this.recentTouches.size >= MAX_REMEMBERED_TOUCHES) this.recentTouches.clear();
    this.recentTouches.set(id, now);
    await this.tokens
      .createQueryBuilder()
      .update()
      .set({ lastUsedAt: () => 'now()' })
      .where("id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", {
        id,
      })
      .execute();
  }
}
