import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { AuditEventEntity } from './audit-event.entity';

export interface AuditFilter {
  type?: string;
  agentId?: string;
  since?: Date;
  until?: Date;
  /** Only events with a smaller id (newest first paging). */
  beforeId?: string;
}

export interface ChainBreak {
  id: string;
  reason: 'hash mismatch' | 'prev_hash mismatch';
}

@Injectable()
export class AuditRepository {
  private readonly events: Repository<AuditEventEntity>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.events = dataSource.getRepository(AuditEventEntity);
  }

  async append(
    row: Pick<
      AuditEventEntity,
      'type' | 'agentId' | 'targetType' | 'targetId' | 'ip' | 'requestId' | 'data'
    >,
  ): Promise<void> {
    await this.events.insert(row as QueryDeepPartialEntity<AuditEventEntity>);
  }

  /** Newest first. */
  find(filter: AuditFilter, limit: number): Promise<AuditEventEntity[]> {
    const query = this.events.createQueryBuilder('e').orderBy('e.id', 'DESC').limit(limit);
    if (filter.type) query.andWhere('e.type = :type', { type: filter.type });
    if (filter.agentId) query.andWhere('e.agent_id = :agentId', { agentId: filter.agentId });
    if (filter.since) query.andWhere('e.created_at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('e.created_at < :until', { until: filter.until });
    if (filter.beforeId) query.andWhere('e.id < :beforeId', { beforeId: filter.beforeId });
    return query.getMany();
  }

  /**
   * Walks the chain in id order, in batches, recomputing each row's digest with the same database
   * function the insert trigger uses. Returns the first broken row, or null when intact.
   */
  async verifyChain(batchSize = 5000): Promise<{ checked: number; firstBreak: ChainBreak | null }> {
    let previousHash = '0'.repeat(64);
    let afterId = '0';
    let checked = 0;
    for (;;) {
      const rows: Array<{ id: string; prev_hash: string; hash: string; recomputed: string }> =
        await this.dataSource.query(
          `SELECT e.id::text AS id, e.prev_hash, e.hash, audit_event_digest(e.prev_hash, e) AS recomputed
           FROM audit_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
          [afterId, batchSize],
        );
      for (const row of rows) {
        checked += 1;
        if (row.prev_hash !== previousHash)
          return { checked, firstBreak: { id: row.id, reason: 'prev_hash mismatch' } };
        if (row.recomputed !== row.hash)
          return { checked, firstBreak: { id: row.id, reason: 'hash mismatch' } };
        previousHash = row.hash;
        afterId = row.id;
      }
      if (rows.length < batchSize) return { checked, firstBreak: null };
    }
  }
}
