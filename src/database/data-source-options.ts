import type { DataSourceOptions } from 'typeorm';
import { AgentEntity } from '../agents/agent.entity';
import { ApiTokenEntity } from '../agents/api-token.entity';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { RoomEntity } from '../rooms/room.entity';
import { RoomMemberEntity } from '../rooms/room-member.entity';
import { MessageEntity } from '../messages/message.entity';
import { MIGRATIONS } from '../../migrations';

export const ENTITIES = [
  AgentEntity,
  ApiTokenEntity,
  AuditEventEntity,
  RoomEntity,
  RoomMemberEntity,
  MessageEntity,
];

/**
 * One definition of the connection, shared by the app, the TypeORM CLI (ormconfig.ts) and tests.
 * Migrations are listed explicitly (migrations/index.ts) so that the compiled app, ts-node and jest
 * load the same classes; `synchronize` is off.
 */
export function dataSourceOptions(
  url: string,
  extra: { poolSize?: number } = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['migration'],
    poolSize: extra.poolSize ?? 20,
    extra: {
      // Fail fast instead of queueing forever: no connection within 3 s (pool exhausted or server
      // gone) or no answer within 4 s surfaces as 503 `unavailable` to the caller.
      connectionTimeoutMillis: 3000,
      query_timeout: 4000,
      idleTimeoutMillis: 30_000,
      application_name: 'agenthub',
      // Prepared statements (the hot paths' named ones) keep one generic plan per connection.
      // PostgreSQL's default re-plans a statement with its values on every run when it thinks
      // that could pay off; for the message write that doubled its database CPU (measured).
      options: '-c plan_cache_mode=force_generic_plan',
    },
  };
}
