import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client, types, type PoolConfig, type QueryArrayConfig } from 'pg';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/errors';
import { pgPool } from '../database/pg-pool';
import { callPrepared, type PreparedStatement, type TextRow } from '../database/prepared-call';
import type { MessageEntity } from './message.entity';
import { MessagesRepository } from './messages.repository';

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

/**
 * One row per input message, in input order (rowMode 'array'): its verdict — a refusal,
 * 'duplicate' of a stored message, or null for stored or repeated within the batch — the
 * 1-based position of the first message with the same key when it repeats one, and what the
 * database set on the stored row.
 */
type OutcomeRow = [
  verdict: AppendRefusal | 'duplicate' | null,
  firstOrd: string | null,
  seq: string | null,
  data: Record<string, unknown> | null,
  createdAt: Date | null,
  duplicateId: string | null,
];

/**
 * The whole batch in one statement, so one round trip and no explicit transaction: lock the
 * rooms in id order (batches on several nodes cannot deadlock), decide per message (room,
 * archived, membership, stored idempotency key, replyTo in the same room, a key repeated within
 * the batch: the first one is stored), take `n` seqs per room under the row lock and insert the
 * accepted messages with them in input order. A statement is atomic: if it fails, nothing of the
 * batch was stored and its seqs were never taken.
 */
const appendStatement = (
  name: string,
  input: string,
  rooms: string,
): QueryArrayConfig & PreparedStatement => ({
  name,
  rowMode: 'array',
  text: `WITH input AS (${input}),
         locked AS MATERIALIZED (
           SELECT r.id, r.archived_at IS NOT NULL AS archived FROM rooms r
            WHERE ${rooms} ORDER BY r.id FOR UPDATE),
         checked AS (
           SELECT i.ord, i.id, i.room_id, i.sender_id, i.client_msg_id,
                  CASE
                    WHEN l.id IS NULL THEN 'room_not_found'
                    WHEN l.archived THEN 'room_archived'
                    WHEN NOT i.bypass AND NOT EXISTS (
                      SELECT 1 FROM room_members m
                       WHERE m.room_id = i.room_id AND m.agent_id = i.sender_id) THEN 'not_member'
                    WHEN d.id IS NOT NULL THEN 'duplicate'
                    WHEN i.reply_to IS NOT NULL AND NOT EXISTS (
                      SELECT 1 FROM messages p
                       WHERE p.id = i.reply_to AND p.room_id = i.room_id) THEN 'reply_not_in_room'
                  END AS verdict, d.id AS duplicate_id
             FROM input i
             LEFT JOIN locked l ON l.id = i.room_id
             LEFT JOIN messages d ON d.client_msg_id IS NOT NULL
                                 AND d.sender_id = i.sender_id AND d.client_msg_id = i.client_msg_id),
         ranked AS (
           SELECT c.*, CASE WHEN c.verdict IS NULL AND c.client_msg_id IS NOT NULL THEN
                         min(c.ord) FILTER (WHERE c.verdict IS NULL)
                           OVER (PARTITION BY c.sender_id, c.client_msg_id) END AS first_ord
             FROM checked c),
         accepted AS (
           SELECT ord, room_id FROM ranked
            WHERE verdict IS NULL AND (first_ord IS NULL OR first_ord = ord)),
         counts AS (SELECT room_id, count(*)::int AS n FROM accepted GROUP BY room_id),
         claimed AS (
           UPDATE rooms SET last_seq = rooms.last_seq + counts.n FROM counts
            WHERE rooms.id = counts.room_id RETURNING rooms.id, rooms.last_seq - counts.n AS base),
         inserted AS (
           INSERT INTO messages (id, room_id, seq, sender_id, body, data, reply_to, client_msg_id)
           SELECT i.id, i.room_id, c.base + row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord),
                  i.sender_id, i.body, i.data, i.reply_to, i.client_msg_id
             FROM input i JOIN accepted a ON a.ord = i.ord JOIN claimed c ON c.id = i.room_id
           RETURNING id, seq, data, created_at)
         SELECT r.verdict, r.first_ord, n.seq, n.data, n.created_at, r.duplicate_id
           FROM ranked r LEFT JOIN inserted n ON n.id = r.id
          ORDER BY r.ord`,
});

/** A batch: one array per column ($1..$8), unnested in input order. */
const APPEND_BATCH = appendStatement(
  'agenthub_append_batch',
  `SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[],
                       $6::uuid[], $7::text[], $8::boolean[])
     WITH ORDINALITY AS t(id, room_id, sender_id, body, data, reply_to, client_msg_id, bypass, ord)`,
  'r.id = ANY($2::uuid[])',
);

/**
 * One message (the usual batch below a few hundred messages per second): the same statement on
 * scalar parameters, which costs the client no array encoding and the server no unnest
 * (measured on the local PostgreSQL: 73 vs 101 µs of client CPU and 307 vs 661 µs per call). It
 * runs through callPrepared (text in, text out, no row description per call); exported for
 * `npm run bench:floor`, which also runs it through pg's Query to show the difference.
 */
export const APPEND_ONE = appendStatement(
  'agenthub_append_one',
  `SELECT $1::uuid AS id, $2::uuid AS room_id, $3::uuid AS sender_id, $4::text AS body,
          $5::jsonb AS data, $6::uuid AS reply_to, $7::text AS client_msg_id,
          $8::boolean AS bypass, 1::bigint AS ord`,
  'r.id = $2::uuid',
);

/**
 * The write path of messages, with a named (prepared) statement — it runs for every message, so
 * it skips the ORM. seqs are assigned under the room row locks, so they are gapless and ordered
 * with any number of server processes.
 *
 * The statements run on a connection of their own, outside the pool: MessageWriter runs one
 * batch at a time per node, so one connection serves them all, with no checkout, release and idle
 * timer per batch (31–44 µs of CPU per batch, `npm run bench:floor`), and a REST burst that
 * exhausts the pool cannot stall sends. It is opened with the pool's options (timeouts included)
 * on first use, dropped when it fails or the server closes it, and opened again by the next batch.
 * Only one call may run at a time: callers other than MessageWriter must not overlap.
 */
@Injectable()
export class MessageStore implements OnApplicationShutdown {
  /** The pool's options (URL, timeouts, startup options): the writer's connection uses them too. */
  private readonly options: PoolConfig;
  /** The writer's connection, from the moment it is being opened until it is dropped. */
  private client: Client | undefined;
  private connection: Promise<Client> | undefined;
  /** The connection once it is open, until it is dropped: batches use it without an await. */
  private ready: Client | undefined;
  /** The latest statement (its caller handles its failure): shutdown waits for it to settle. */
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly messages: MessagesRepository,
  ) {
    this.options = pgPool(dataSource).options;
  }

  /**
   * Stores a batch atomically and answers per message, in input order: the stored message, or
   * why it was refused (refused ones take no seq). Throws when the statement fails; then nothing
   * of the batch was stored.
   */
  async appendBatch(batch: NewMessage[]): Promise<AppendResult[]> {
    const client = this.ready ?? (await this.writerConnection());
    const statement =
      batch.length === 1
        ? callPrepared(client, APPEND_ONE, textParametersOf(batch[0]), outcomeOf)
        : client
            .query<OutcomeRow>({ ...APPEND_BATCH, values: columnsOf(batch) })
            .then((result) => result.rows);
    this.inFlight = statement;
    let rows: OutcomeRow[];
    try {
      rows = await statement;
    } catch (error) {
      // A connection whose server stopped answering is dropped; one that answered with an error
      // (a constraint, a trigger) is healthy and stays.
      if (isDatabaseUnavailable(error)) this.drop(client);
      throw error;
    }
    const resent = rows.flatMap(([verdict, , , , , id]) => (verdict === 'duplicate' ? [id!] : []));
    // No await when nothing was a resend (the usual case): the message goes out a tick sooner.
    const originals = resent.length === 0 ? NO_ORIGINALS : await this.originals(resent);
    return rows.map((row, i): AppendResult => {
      const [verdict, firstOrd, , , , duplicateId] = row;
      if (verdict === 'duplicate') return { duplicateOf: originals.get(duplicateId!)! };
      if (verdict !== null) return verdict;
      const first = firstOrd === null ? i : Number(firstOrd) - 1;
      const stored = storedMessage(batch[first], rows[first]);
      return first === i ? stored : { duplicateOf: stored };
    });
  }

  /** Runs after the gateway has drained the sends in flight (beforeApplicationShutdown). */
  async onApplicationShutdown(): Promise<void> {
    // A statement still running (bounded by the query timeout) is answered, not cut off.
    await this.inFlight.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    this.ready = undefined;
    this.connection = undefined;
    await client?.end().catch(() => undefined);
  }

  private writerConnection(): Promise<Client> {
    if (this.connection) return this.connection;
    const client = new Client(this.options);
    // A connection that fails or is closed while idle (the server restarted) is replaced.
    client.on('error', () => this.drop(client));
    client.on('end', () => this.drop(client));
    this.client = client;
    this.connection = client.connect().then(
      () => {
        if (this.client === client) this.ready = client;
        return client;
      },
      (error: unknown) => {
        this.drop(client);
        throw error;
      },
    );
    return this.connection;
  }

  /** Forgets the connection (the next batch opens a new one) and closes it. */
  private drop(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.ready = undefined;
    this.connection = undefined;
    client.end().catch(() => undefined);
  }

  /** The stored originals of resent idempotency keys (rare: a resend after a lost ack). */
  private async originals(ids: string[]): Promise<ReadonlyMap<string, MessageEntity>> {
    return new Map((await this.messages.findByIds(ids)).map((m) => [m.id, m]));
  }
}

const NO_ORIGINALS: ReadonlyMap<string, MessageEntity> = new Map();

/** One message as APPEND_ONE's parameters $1..$8, in PostgreSQL's text format. */
export function textParametersOf(m: NewMessage): (string | null)[] {
  return [
    m.id,
    m.roomId,
    m.senderId,
    m.body,
    m.dataJson,
    m.replyTo,
    m.clientMsgId,
    m.bypassMembership ? 'true' : 'false',
  ];
}

/** A batch as APPEND_BATCH's parameters: one array per column, in input order. */
function columnsOf(batch: NewMessage[]): unknown[][] {
  return [
    batch.map((m) => m.id),
    batch.map((m) => m.roomId),
    batch.map((m) => m.senderId),
    batch.map((m) => m.body),
    batch.map((m) => m.dataJson),
    batch.map((m) => m.replyTo),
    batch.map((m) => m.clientMsgId),
    batch.map((m) => m.bypassMembership),
  ];
}

/** pg's parsers for the two columns that are not kept as text (int8 and uuid stay strings). */
type TextParser = (text: string) => unknown;
const parseJsonb = types.getTypeParser(types.builtins.JSONB, 'text') as TextParser;
const parseTimestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ, 'text') as TextParser;

/** APPEND_ONE's text row as the OutcomeRow that pg makes of APPEND_BATCH's. */
function outcomeOf([verdict, firstOrd, seq, data, createdAt, duplicateId]: TextRow): OutcomeRow {
  return [
    verdict as OutcomeRow[0],
    firstOrd,
    seq,
    data === null ? null : (parseJsonb(data) as Record<string, unknown>),
    createdAt === null ? null : (parseTimestamptz(createdAt) as Date),
    duplicateId,
  ];
}

function storedMessage(m: NewMessage, [, , seq, data, createdAt]: OutcomeRow): MessageEntity {
  return {
    id: m.id,
    roomId: m.roomId,
    seq: Number(seq),
    senderId: m.senderId,
    body: m.body,
    data,
    replyTo: m.replyTo,
    clientMsgId: m.clientMsgId,
    createdAt: createdAt!,
  };
}
