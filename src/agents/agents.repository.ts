import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { AgentEntity } from './agent.entity';

const BOOTSTRAP_LOCK_KEY = 7261626501;

@Injectable()
export class AgentsRepository {
  private readonly agents: Repository<AgentEntity>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.agents = dataSource.getRepository(AgentEntity);
  }

  async insert(
    agent: Omit<AgentEntity, 'createdAt' | 'lastSeenAt' | 'rateLimits'>,
  ): Promise<AgentEntity> {
    await this.agents.insert(agent as QueryDeepPartialEntity<AgentEntity>);
    const created = await this.findById(agent.id);
    if (!created) throw new Error(`agent ${agent.id} vanished after insert`);
    return created;
  }

  findById(id: string): Promise<AgentEntity | null> {
    return this.agents.findOneBy({ id });
  }

  findByName(name: string): Promise<AgentEntity | null> {
    return this.agents.findOneBy({ name });
  }

  findByIds(ids: string[]): Promise<AgentEntity[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.agents.createQueryBuilder('a').where('a.id IN (:...ids)', { ids }).getMany();
  }

  /** Agents in creation order (UUIDv7 ids sort by time), after the cursor id. */
  listAfter(cursor: string | undefined, limit: number): Promise<AgentEntity[]> {
    const query = this.agents.createQueryBuilder('a').orderBy('a.id', 'ASC').limit(limit);
    if (cursor) query.where('a.id > :cursor', { cursor });
    return query.getMany();
  }

  async update(
    id: string,
    patch: Partial<
      Pick<AgentEntity, 'displayName' | 'role' | 'disabled' | 'metadata' | 'rateLimits'>
    >,
  ): Promise<void> {
    await this.agents.update({ id }, patch as QueryDeepPartialEntity<AgentEntity>);
  }

  async touchLastSeen(id: string): Promise<void> {
    await this.agents
      .createQueryBuilder()
      .update()
      .set({ lastSeenAt: () => 'now()' })
      .where(
        "id = :id AND (last_seen_at IS NULL OR last_seen_at < now() - interval '30 seconds')",
        { id },
      )
      .execute();
  }

  async hasAdmin(): Promise<boolean> {
    return (await this.agents.countBy({ role: 'admin' })) > 0;
  }

  /** Runs `work` while holding a cluster-wide lock (PostgreSQL advisory lock) for the bootstrap. */
  async withBootstrapLock<T>(work: () => Promise<T>): Promise<T> {
    const lock = this.dataSource.createQueryRunner();
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [BOOTSTRAP_LOCK_KEY]);
      return await work();
    } finally {
      await lock
        .query('SELECT pg_advisory_unlock($1)', [BOOTSTRAP_LOCK_KEY])
        .catch(() => undefined);
      await lock.release();
    }
  }
}
