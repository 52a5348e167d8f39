import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { MessageEntity } from './message.entity';

export interface NewMessage {
  id: string;
  roomId: string;
  senderId: string;
  body: string;
  data: Record<string, unknown> | null;
  replyTo: string | null;
  clientMsgId: string | null;
  /** Admins may post to rooms they are not members of. */
  bypassMembership: boolean;
}

/** Why appendMessage could not take a seq: the caller turns it into the contract's error. */
export type AppendRefusal = 'room_not_found' | 'room_archived' | 'not_member';

interface MessageRow {
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

const COLUMNS = 'id, room_id, seq, sender_id, body, data, reply_to, client_msg_id, created_at';

function toEntity(row: MessageRow): MessageEntity {
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

@Injectable()
export class MessagesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Stores one message with the room's next seq, in one transaction: the room row is locked by
   * the UPDATE, so seqs are gapless and ordered with any number of server processes, and a failed
   * insert rolls the counter back. Membership is checked by the same statement.
   */
  async appendMessage(message: NewMessage): Promise<MessageEntity | AppendRefusal> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const claimed: { records: Array<{ last_seq: string }> } = await runner.query(
        `UPDATE rooms SET last_seq = last_seq + 1
          WHERE id = $1 AND archived_at IS NULL
            AND ($3::boolean OR EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND agent_id = $2))
          RETURNING last_seq`,
        [message.roomId, message.senderId, message.bypassMembership],
        true,
      );
      if (claimed.records.length === 0) {
        await runner.rollbackTransaction();
        return this.whyRefused(message.roomId);
      }
      const rows = (await runner.query(
        `INSERT INTO messages (id, room_id, seq, sender_id, body, data, reply_to, client_msg_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [
          message.id,
          message.roomId,
          claimed.records[0].last_seq,
          message.senderId,
          message.body,
          message.data === null ? null : JSON.stringify(message.data),
          message.replyTo,
          message.clientMsgId,
        ],
      )) as MessageRow[];
      await runner.commitTransaction();
      return toEntity(rows[0]);
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  async findByClientMsgId(senderId: string, clientMsgId: string): Promise<MessageEntity | null> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM messages WHERE sender_id = $1 AND client_msg_id = $2`,
      [senderId, clientMsgId],
    );
    return rows[0] ? toEntity(rows[0]) : null;
  }

  /** Messages with seq > after (and < before), oldest first; one extra row tells hasMore. */
  async findAfter(
    roomId: string,
    after: number,
    before: number | undefined,
    limit: number,
  ): Promise<{ items: MessageEntity[]; hasMore: boolean }> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM messages
        WHERE room_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq < $3)
        ORDER BY seq ASC LIMIT $4`,
      [roomId, after, before ?? null, limit + 1],
    );
    return { items: rows.slice(0, limit).map(toEntity), hasMore: rows.length > limit };
  }

  /** The newest messages with seq < before, returned oldest first. */
  async findBefore(
    roomId: string,
    before: number | undefined,
    limit: number,
  ): Promise<{ items: MessageEntity[]; hasMore: boolean }> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM messages
        WHERE room_id = $1 AND ($2::bigint IS NULL OR seq < $2)
        ORDER BY seq DESC LIMIT $3`,
      [roomId, before ?? null, limit + 1],
    );
    return { items: rows.slice(0, limit).reverse().map(toEntity), hasMore: rows.length > limit };
  }

  private async whyRefused(roomId: string): Promise<AppendRefusal> {
    const rows: Array<{ archived: boolean }> = await this.dataSource.query(
      `SELECT archived_at IS NOT NULL AS archived FROM rooms WHERE id = $1`,
      [roomId],
    );
    if (rows.length === 0) return 'room_not_found';
    return rows[0].archived ? 'room_archived' : 'not_member';
  }
}
