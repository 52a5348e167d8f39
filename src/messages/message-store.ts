import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/errors';
import { pgPool } from '../database/pg-pool';
import type { MessageEntity } from './message.entity';
import { COLUMNS, type MessageRow, toEntity } from './messages.repository';

export interface NewMessage {
  id: string;
  roomId: string;
  senderId: string;
  body: string;
  /** `data` as JSON text (serialised once, when its size was checked), or null. */
  dataJson: string | null;
  replyTo: string | null;
  clientMsgId: string | null;
  /** Admins may post to rooms they are not members of. */
  bypassMembership: boolean;
}

/** Why a message could not take a seq: the caller turns it into the contract's error. */
export type AppendRefusal = 'room_not_found' | 'room_archived' | 'not_member' | 'reply_not_in_room';
/** A message already stored under the same (sender, clientMsgId): nothing new was written. */
export interface DuplicateOf {
  duplicateOf: MessageEntity;
}
export type AppendResult = MessageEntity | DuplicateOf | AppendRefusal;

/** Locks the rooms in id order (no deadlocks between batches) and reads who may post there. */
const LOCK_ROOMS: QueryConfig = {
  name: 'agenthub_lock_rooms',
  text: `SELECT r.id, r.archived_at IS NOT NULL AS archived,
                ARRAY(SELECT m.agent_id FROM room_members m
                       WHERE m.room_id = r.id AND m.agent_id = ANY($2::uuid[])) AS members
           FROM rooms r WHERE r.id = ANY($1::uuid[]) ORDER BY r.id FOR UPDATE OF r`,
};

/** Rows a batch refers to: replyTo targets, and earlier messages with the same idempotency key. */
const REFERENCED: QueryConfig = {
  name: 'agenthub_referenced_messages',
  text: `SELECT ${COLUMNS} FROM messages
          WHERE id = ANY($1::uuid[])
             OR (sender_id, client_msg_id) IN (SELECT * FROM unnest($2::uuid[], $3::text[]))`,
};

/** Takes `n` seqs per room and inserts the messages with them, in input order, in one statement. */
const INSERT_MESSAGES: QueryConfig = {
  name: 'agenthub_insert_messages',
  text: `WITH input AS (
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::uuid[], $7::text[])
             WITH ORDINALITY AS t(id, room_id, sender_id, body, data, reply_to, client_msg_id, ord)),
         counts AS (SELECT room_id, count(*)::int AS n FROM input GROUP BY room_id),
         claimed AS (
           UPDATE rooms SET last_seq = rooms.last_seq + counts.n FROM counts
            WHERE rooms.id = counts.room_id RETURNING rooms.id, rooms.last_seq - counts.n AS base)
         INSERT INTO messages (id, room_id, seq, sender_id, body, data, reply_to, client_msg_id)
         SELECT i.id, i.room_id, c.base + row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord),
                i.sender_id, i.body, i.data, i.reply_to, i.client_msg_id
           FROM input i JOIN claimed c ON c.id = i.room_id
         RETURNING id, seq, data, created_at`,
};

/**
 * The write path of messages, on the pg pool with named (prepared) statements — it runs for every
 * message, so it skips the ORM. A batch is one transaction of two statements: seqs are assigned
 * under the room row locks, so they are gapless and ordered with any number of server processes,
 * and a failed transaction gives its seqs back.
 */
@Injectable()
export class MessageStore {
  private readonly pool: Pool;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.pool = pgPool(dataSource);
  }

  /**
   * Stores a batch in one transaction and answers per message, in input order: the stored
   * message, or why it was refused (refused ones take no seq). Throws when the transaction fails;
   * then nothing of the batch was stored.
   */
  async appendBatch(batch: NewMessage[]): Promise<AppendResult[]> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const results = await this.append(client, batch);
      await client.query('COMMIT');
      return results;
    } catch (error) {
      // A connection whose server stopped answering is destroyed (the server rolls back on its
      // own); waiting for a ROLLBACK there would double the time the caller waits.
      if (isDatabaseUnavailable(error)) broken = error as Error;
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async append(client: PoolClient, batch: NewMessage[]): Promise<AppendResult[]> {
    const rooms = await client.query<{ id: string; archived: boolean; members: string[] }>({
      ...LOCK_ROOMS,
      values: [
        [...new Set(batch.map((m) => m.roomId))],
        [...new Set(batch.map((m) => m.senderId))],
      ],
    });
    const byId = new Map(rooms.rows.map((room) => [room.id, room]));
    const referenced = await this.referenced(client, batch);
    const firstWithKey = new Map<string, number>();
    const outcome = batch.map((m, i): AppendRefusal | DuplicateOf | number | null => {
      const room = byId.get(m.roomId);
      if (!room) return 'room_not_found';
      if (room.archived) return 'room_archived';
      if (!m.bypassMembership && !room.members.includes(m.senderId)) return 'not_member';
      const key = m.clientMsgId === null ? null : `${m.senderId}:${m.clientMsgId}`;
      if (key !== null) {
        const stored = referenced.byKey.get(key);
        if (stored) return { duplicateOf: stored };
        const earlier = firstWithKey.get(key);
        if (earlier !== undefined) return earlier; // the same key twice in this batch: the first one
      }
      if (m.replyTo !== null && referenced.byId.get(m.replyTo)?.roomId !== m.roomId)
        return 'reply_not_in_room';
      if (key !== null) firstWithKey.set(key, i);
      return null;
    });
    const accepted = batch.filter((_, i) => outcome[i] === null);
    if (accepted.length === 0) return outcome as Array<AppendRefusal | DuplicateOf>;

    const inserted = await client.query<{
      id: string;
      seq: string;
      data: Record<string, unknown> | null;
      created_at: Date;
    }>({
      ...INSERT_MESSAGES,
      values: [
        accepted.map((m) => m.id),
        accepted.map((m) => m.roomId),
        accepted.map((m) => m.senderId),
        accepted.map((m) => m.body),
        accepted.map((m) => m.dataJson),
        accepted.map((m) => m.replyTo),
        accepted.map((m) => m.clientMsgId),
      ],
    });
    const stored = new Map(inserted.rows.map((row) => [row.id, row]));
    const entityAt = (i: number): MessageEntity => {
      const m = batch[i];
      const row = stored.get(m.id)!;
      return {
        id: m.id,
        roomId: m.roomId,
        seq: Number(row.seq),
        senderId: m.senderId,
        body: m.body,
        data: row.data,
        replyTo: m.replyTo,
        clientMsgId: m.clientMsgId,
        createdAt: row.created_at,
      };
    };
    return outcome.map((o, i): AppendResult => {
      if (o === null) return entityAt(i);
      if (typeof o === 'number') return { duplicateOf: entityAt(o) };
      return o;
    });
  }

  /** One round trip, and only when the batch has replyTo or clientMsgId values to look up. */
  private async referenced(
    client: PoolClient,
    batch: NewMessage[],
  ): Promise<{ byId: Map<string, MessageEntity>; byKey: Map<string, MessageEntity> }> {
    const replyTo = batch.flatMap((m) => (m.replyTo ? [m.replyTo] : []));
    const keyed = batch.filter((m) => m.clientMsgId !== null);
    const byId = new Map<string, MessageEntity>();
    const byKey = new Map<string, MessageEntity>();
    if (replyTo.length === 0 && keyed.length === 0) return { byId, byKey };
    const rows = await client.query<MessageRow>({
      ...REFERENCED,
      values: [replyTo, keyed.map((m) => m.senderId), keyed.map((m) => m.clientMsgId)],
    });
    for (const row of rows.rows) {
      const entity = toEntity(row);
      byId.set(entity.id, entity);
      if (entity.clientMsgId !== null)
        byKey.set(`${entity.senderId}:${entity.clientMsgId}`, entity);
    }
    return { byId, byKey };
  }
}
