import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { pgPool, queryRows } from '../database/pg-pool';
import { MessageEntity } from './message.entity';

export interface MessageRow extends QueryResultRow {
  id: string;
  room_id: string;
  seq: string;
  sender_id: string;
  body: string;
  data: Record<string, unknown> | null;
  reply_to: string | null;
  client_msg_id: string | null;
  created_at: Date;
}

export const COLUMNS =
  'id, room_id, seq, sender_id, body, data, reply_to, client_msg_id, created_at';

export function toEntity(row: MessageRow): MessageEntity {
  return {
    id: row.id,
    roomId: row.room_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    body: row.body,
    data: row.data,
    replyTo: row.reply_to,
    clientMsgId: row.client_msg_id,
    createdAt: row.created_at,
  };
}

const BY_CLIENT_MSG_ID: QueryConfig = {
  name: 'agenthub_message_by_client_msg_id',
  text: `SELECT ${COLUMNS} FROM messages WHERE sender_id = $1 AND client_msg_id = $2`,
};
const BY_IDS: QueryConfig = {
  name: 'agenthub_messages_by_ids',
  text: `SELECT ${COLUMNS} FROM messages WHERE id = ANY($1::uuid[])`,
};
const AFTER: QueryConfig = {
  name: 'agenthub_messages_after',
  text: `SELECT ${COLUMNS} FROM messages
          WHERE room_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq < $3)
          ORDER BY seq ASC LIMIT $4`,
};
const BEFORE: QueryConfig = {
  name: 'agenthub_messages_before',
  text: `SELECT ${COLUMNS} FROM messages
          WHERE room_id = $1 AND ($2::bigint IS NULL OR seq < $2)
          ORDER BY seq DESC LIMIT $3`,
};

/** Reads of messages: history pages, recovery and idempotency look-ups (prepared statements). */
@Injectable()
export class MessagesRepository {
  private readonly pool: Pool;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.pool = pgPool(dataSource);
  }

  async findByClientMsgId(senderId: string, clientMsgId: string): Promise<MessageEntity | null> {
    const rows = await queryRows<MessageRow>(this.pool, BY_CLIENT_MSG_ID, [senderId, clientMsgId]);
    return rows[0] ? toEntity(rows[0]) : null;
  }

  async findByIds(ids: string[]): Promise<MessageEntity[]> {
    return (await queryRows<MessageRow>(this.pool, BY_IDS, [ids])).map(toEntity);
  }

  /** Messages with seq > after (and < before), oldest first; one extra row tells hasMore. */
  async findAfter(
    roomId: string,
    after: number,
    before: number | undefined,
    limit: number,
  ): Promise<{ items: MessageEntity[]; hasMore: boolean }> {
    const rows = await queryRows<MessageRow>(this.pool, AFTER, [
      roomId,
      after,
      before ?? null,
      limit + 1,
    ]);
    return { items: rows.slice(0, limit).map(toEntity), hasMore: rows.length > limit };
  }

  /** The newest messages with seq < before, returned oldest first. */
  async findBefore(
    roomId: string,
    before: number | undefined,
    limit: number,
  ): Promise<{ items: MessageEntity[]; hasMore: boolean }> {
    const rows = await queryRows<MessageRow>(this.pool, BEFORE, [
      roomId,
      before ?? null,
      limit + 1,
    ]);
    return { items: rows.slice(0, limit).reverse().map(toEntity), hasMore: rows.length > limit };
  }
}
