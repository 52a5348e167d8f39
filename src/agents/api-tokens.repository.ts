import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AgentEntity } from './agent.entity';
import { ApiTokenEntity } from './api-token.entity';

export interface TokenWithAgent {
  token: ApiTokenEntity;
  agent: AgentEntity;
}

@Injectable()
export class ApiTokensRepository {
  private readonly tokens: Repository<ApiTokenEntity>;

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

  /** The token with this hash and its agent, whatever their state; callers decide what is usable. */
  async findByHash(hash: Buffer): Promise<TokenWithAgent | null> {
    const token = await this.tokens
      .createQueryBuilder('t')
      .where('t.token_hash = :hash', { hash })
      .getOne();
    if (!token) return null;
    const agent = await this.dataSource.getRepository(AgentEntity).findOneBy({ id: token.agentId });
    return agent ? { token, agent } : null;
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

  /** Updates last_used_at at most once a minute per token, so auth does not write on every call. */
  async touchLastUsed(id: string): Promise<void> {
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
