import { Injectable, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { AUDITED_EVENTS, AuditedEventType, DomainEvent } from '../common/domain-events';
import { AppError } from '../common/errors';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor } from '../common/pagination';
import type { AuditEventDto, Page } from '../contracts/rest';
import type { AuditEventEntity } from './audit-event.entity';
import { AuditRepository } from './audit.repository';
import type { AuditQueryDto } from './dto/audit-query.dto';

/** Keys that must never reach the audit log, whatever an emitter puts in `data`. */
const SECRET_KEYS = /token$|secret|password|hash|^jwt$|authorization/i;

function scrub(data: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!data) return {};
  return Object.fromEntries(
    Object.entries(data)
      .filter(([key, value]) => !SECRET_KEYS.test(key) && value !== undefined)
      .map(([key, value]) => [key, value]),
  );
}

export function toAuditEventDto(row: AuditEventEntity): AuditEventDto {
  return {
    id: row.id,
    type: row.type,
    agentId: row.agentId,
    targetType: row.targetType,
    targetId: row.targetId,
    ip: row.ip,
    requestId: row.requestId,
    data: row.data,
    createdAt: row.createdAt.toISOString(),
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** Records every domain event as an audit row; services never write audit rows themselves. */
@Injectable()
export class AuditService implements OnModuleInit {
  constructor(
    private readonly events: EventEmitter2,
    private readonly audit: AuditRepository,
  ) {}

  onModuleInit(): void {
    for (const type of AUDITED_EVENTS) {
      // Emitters use emitAsync, which awaits this promise: the row is written before they go on.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      this.events.on(type, (event: DomainEvent): Promise<void> => this.record(type, event));
    }
  }

  async record(type: AuditedEventType, event: DomainEvent): Promise<void> {
    await this.audit.append({
      type,
      agentId: event.actor.agentId,
      targetType: event.targetType ?? null,
      targetId: event.targetId ?? null,
      ip: event.actor.ip,
      requestId: event.actor.requestId,
      data: scrub(event.data),
    });
  }

  async list(query: AuditQueryDto): Promise<Page<AuditEventDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const since = query.since ? new Date(query.since) : undefined;
    const until = query.until ? new Date(query.until) : undefined;
    if (since && until && since > until)
      throw new AppError('validation_failed', 'since must not be after until');
    const beforeId = decodeCursor(query.cursor, (key) => /^\d{1,19}$/.test(key));
    const rows = await this.audit.find(
      { type: query.type, agentId: query.agentId, since, until, beforeId },
      limit + 1,
    );
    const items = rows.slice(0, limit).map(toAuditEventDto);
    return {
      items,
      nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1].id) : null,
    };
  }
}
