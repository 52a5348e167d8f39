/**
 * The statement that stores messages (one per batch) and the shapes around it: what goes in
 * (NewMessage as parameters), what comes out (one OutcomeRow per message). MessageStore runs it.
 */
import { types, type QueryArrayConfig } from 'pg';
import type { PreparedStatement, TextRow } from '../database/prepared-call';

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
/**
 * One row per input message, in input order (rowMode 'array'): its verdict — a refusal,
 * 'duplicate' of a stored message, or null for stored or repeated within the batch — the
 * 1-based position of the first message with the same key when it repeats one, and what the
 * database set on the stored row.
 */
export type OutcomeRow = [
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
export const APPEND_BATCH = appendStatement(
  'agenthub_append_batch',
  `SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[],
                       $6::uuid[], $7::text[], $8::boolean[])
     WITH ORDINALITY AS t(id, room_id, sender_id, body, data, reply_to, client_msg_id, bypass, ord)`,
  'r.id = ANY($2::uuid[])',
);

/**
 * One message (the usual batch below a few hundred messages per second): the same statement on
 * scalar parameters, which costs the client no array encoding and the server no unnest
 * (measured on the local PostgreSQL when both went through pg's Query: 73 vs 101 µs of client CPU
 * and 307 vs 661 µs per call). It
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

/** The parameters $1..$8 of both statements, each as PostgreSQL's text of one message's value. */
const PARAMETERS: ReadonlyArray<(m: NewMessage) => string | null> = [
  (m) => m.id,
  (m) => m.roomId,
  (m) => m.senderId,
  (m) => m.body,
  (m) => m.dataJson,
  (m) => m.replyTo,
  (m) => m.clientMsgId,
  (m) => (m.bypassMembership ? 'true' : 'false'),
];

/** One message as APPEND_ONE's parameters $1..$8, in PostgreSQL's text format. */
export function textParametersOf(m: NewMessage): (string | null)[] {
  return PARAMETERS.map((valueOf) => valueOf(m));
}

/**
 * A batch as APPEND_BATCH's parameters $1..$8: one array literal per column, in input order, in
 * PostgreSQL's text format (what pg's own array serialiser writes, without its per-element type
 * checks), so the batch runs through callPrepared like a single message.
 */
export function arrayParametersOf(batch: readonly NewMessage[]): string[] {
  return PARAMETERS.map((valueOf) => textArray(batch, valueOf));
}

/** `"` and `\` are the two characters a double-quoted array element escapes with a backslash. */
const ARRAY_QUOTED = /["\\]/g;

/**
 * An array literal of the values (`{"a","b\"c",NULL}`): every element double-quoted, so braces,
 * commas, spaces and the word NULL in a value stay text, and null as the unquoted NULL.
 */
export function textArray<T>(items: readonly T[], valueOf: (item: T) => string | null): string {
  let literal = '{';
  for (let i = 0; i < items.length; i += 1) {
    const value = valueOf(items[i]);
    if (i > 0) literal += ',';
    literal += value === null ? 'NULL' : `"${value.replace(ARRAY_QUOTED, '\\$&')}"`;
  }
  return literal + '}';
}

/**
 * A column's text parsed as pg's Query would: with the parser registered for its type now, so a
 * parser set with types.setTypeParser after this module loaded is honoured.
 */
function parseAs(type: number, text: string): unknown {
  return (types.getTypeParser(type, 'text') as (text: string) => unknown)(text);
}

/** A text row of either statement as the OutcomeRow that pg's Query would make of it. */
export function outcomeOf([
  verdict,
  firstOrd,
  seq,
  data,
  createdAt,
  duplicateId,
]: TextRow): OutcomeRow {
  return [
    verdict as OutcomeRow[0],
    firstOrd,
    seq,
    data === null ? null : (parseAs(types.builtins.JSONB, data) as Record<string, unknown>),
    createdAt === null ? null : (parseAs(types.builtins.TIMESTAMPTZ, createdAt) as Date),
    duplicateId,
  ];
}
