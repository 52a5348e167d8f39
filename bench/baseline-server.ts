/**
 * BASELINE: the obvious hand-written alternative to AgentHub, for bench/run.ts. Plain socket.io
 * and `pg` on node:http, no framework, the same schema (AgentHub's migrations, applied by the
 * runner) and the same semantics on the message path:
 *
 *   - handshake: the JWT in `auth.token` is verified (HS256, iss/aud/exp) with jsonwebtoken;
 *   - `room:join {roomId}`: a public room makes the agent a member; the socket joins `room:<id>`;
 *   - `message:send {roomId, body, clientMsgId?}`: one transaction per message that bumps
 *     rooms.last_seq (membership checked by the same UPDATE) and INSERTs the row with that seq;
 *     after COMMIT, `message:new` to the room except the sender, then the ack `{ok, message}`;
 *   - `GET /v1/rooms/:id/messages?limit=50` (Bearer JWT): `{items, hasMore}`, oldest first.
 *
 * Environment: PORT, DATABASE_URL, JWT_SECRET; HOST (default 127.0.0.1), PG_POOL_SIZE (default
 * 20, AgentHub's pool size).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool, type PoolClient } from 'pg';
import { Server, type Socket } from 'socket.io';
import { uuidv7 } from '../src/common/uuid';
import type { MessageDto, MessagePage, RoomDto } from '../src/contracts/rest';
import type {
  ClientToServerEvents,
  MessageSendPayload,
  ServerToClientEvents,
  WsError,
} from '../src/contracts/socket-events';
import {
  bearer,
  errorMessage,
  MAX_BODY_BYTES,
  onShutdown,
  requiredEnv,
  sendError,
  sendJson,
  SOCKET_OPTIONS,
  UUID,
  verificationKey,
  verifyAccessToken,
} from './lib/server-common';

interface SocketData {
  agentId: string;
}
type BaselineSocket = Socket<ClientToServerEvents, ServerToClientEvents, object, SocketData>;

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

interface RoomRow {
  id: string;
  name: string;
  topic: string | null;
  visibility: 'public' | 'private';
  kind: 'group' | 'direct';
  created_by: string | null;
  created_at: Date;
  archived_at: Date | null;
  last_seq: string;
  member: boolean;
}

const COLUMNS = 'id, room_id, seq, sender_id, body, data, reply_to, client_msg_id, created_at';
const port = Number(process.env.PORT ?? 3100);
const host = process.env.HOST ?? '127.0.0.1';
const secret = verificationKey(requiredEnv('JWT_SECRET'));
const pool = new Pool({
  connectionString: requiredEnv('DATABASE_URL'),
  max: Number(process.env.PG_POOL_SIZE ?? 20),
  application_name: 'bench-baseline',
});

function toMessage(row: MessageRow): MessageDto {
  return {
    id: row.id,
    roomId: row.room_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    body: row.body,
    data: row.data,
    replyTo: row.reply_to,
    clientMsgId: row.client_msg_id,
    createdAt: row.created_at.toISOString(),
  };
}

function toRoom(row: RoomRow): RoomDto {
  return {
    id: row.id,
    name: row.name,
    topic: row.topic,
    visibility: row.visibility,
    kind: row.kind,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    archivedAt: row.archived_at ? row.archived_at.toISOString() : null,
    lastSeq: Number(row.last_seq),
  };
}

/** The room and whether the agent is a member, in one round trip; undefined: no such room. */
async function findRoom(roomId: string, agentId: string): Promise<RoomRow | undefined> {
  const { rows } = await pool.query<RoomRow>(
    `SELECT r.*, EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.agent_id = $2) AS member
       FROM rooms r WHERE r.id = $1`,
    [roomId, agentId],
  );
  return rows[0];
}

// ---------------------------------------------------------------------------------------------
// REST: GET /v1/rooms/:id/messages?after=&limit= (and /healthz for the runner)

const HISTORY_PATH = /^\/v1\/rooms\/([^/]+)\/messages$/;

async function history(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const match = HISTORY_PATH.exec(url.pathname);
  if (url.pathname === '/healthz') return sendJson(response, 200, { status: 'ok' });
  if (!match || request.method !== 'GET') return sendError(response, 404, 'not_found', 'not found');
  const agentId = verifyAccessToken(bearer(request), secret);
  if (!agentId) return sendError(response, 401, 'unauthorized', 'invalid or expired credentials');
  const roomId = match[1];
  const limit = Number(url.searchParams.get('limit') ?? 50);
  const after = Number(url.searchParams.get('after') ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200 || !Number.isInteger(after) || after < 0)
    return sendError(response, 400, 'validation_failed', 'limit must be 1..200, after >= 0');
  if (!UUID.test(roomId)) return sendError(response, 404, 'not_found', 'room not found');
  const room = await findRoom(roomId, agentId);
  if (!room || (room.visibility === 'private' && !room.member))
    return sendError(response, 404, 'not_found', 'room not found');
  const { rows } = await pool.query<MessageRow>(
    `SELECT ${COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`,
    [roomId, after, limit + 1],
  );
  const page: MessagePage = {
    items: rows.slice(0, limit).map(toMessage),
    hasMore: rows.length > limit,
  };
  sendJson(response, 200, page);
}

const httpServer = createServer((request, response) => {
  history(request, response).catch((error: unknown) => {
    console.error('baseline: history failed:', errorMessage(error));
    if (!response.headersSent) sendError(response, 500, 'internal', 'internal error');
  });
});

// ---------------------------------------------------------------------------------------------
// socket.io

const io = new Server<ClientToServerEvents, ServerToClientEvents, object, SocketData>(
  httpServer,
  SOCKET_OPTIONS,
);

io.use((socket, next) => {
  const agentId = verifyAccessToken((socket.handshake.auth as { token?: unknown }).token, secret);
  if (!agentId) {
    next(
      Object.assign(new Error('invalid or expired credentials'), {
        data: { code: 'unauthorized' },
      }),
    );
    return;
  }
  socket.data.agentId = agentId;
  next();
});

function wsError(code: WsError['code'], message: string): { ok: false; error: WsError } {
  return { ok: false, error: { code, message } };
}

/** One transaction: claim the next seq (membership checked in the same UPDATE), insert, commit. */
async function appendMessage(
  client: PoolClient,
  agentId: string,
  payload: MessageSendPayload,
): Promise<MessageRow | 'refused'> {
  await client.query('BEGIN');
  try {
    const claimed = await client.query<{ last_seq: string }>(
      `UPDATE rooms SET last_seq = last_seq + 1
        WHERE id = $1 AND archived_at IS NULL
          AND EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND agent_id = $2)
        RETURNING last_seq`,
      [payload.roomId, agentId],
    );
    if (claimed.rowCount === 0) {
      await client.query('ROLLBACK');
      return 'refused';
    }
    const inserted = await client.query<MessageRow>(
      `INSERT INTO messages (id, room_id, seq, sender_id, body, client_msg_id)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [
        uuidv7(),
        payload.roomId,
        claimed.rows[0].last_seq,
        agentId,
        payload.body,
        payload.clientMsgId ?? null,
      ],
    );
    await client.query('COMMIT');
    return inserted.rows[0];
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

io.on('connection', (socket: BaselineSocket) => {
  const agentId = socket.data.agentId;

  socket.on('room:join', (payload, ack) => {
    if (typeof ack !== 'function') return;
    const roomId = payload?.roomId;
    if (typeof roomId !== 'string' || !UUID.test(roomId)) {
      ack(wsError('validation_failed', 'roomId must be a UUID'));
      return;
    }
    void (async () => {
      const room = await findRoom(roomId, agentId);
      if (!room || (room.visibility === 'private' && !room.member)) {
        ack(wsError('not_found', 'room not found'));
        return;
      }
      if (!room.member) {
        await pool.query(
          `INSERT INTO room_members (room_id, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
          [roomId, agentId],
        );
      }
      await socket.join(`room:${roomId}`);
      ack({ ok: true, room: toRoom(room), missed: [], hasMore: false });
    })().catch((error: unknown) => {
      console.error('baseline: room:join failed:', errorMessage(error));
      ack(wsError('internal', 'internal error'));
    });
  });

  socket.on('room:leave', (payload, ack) => {
    if (typeof payload?.roomId === 'string') void socket.leave(`room:${payload.roomId}`);
    if (typeof ack === 'function') ack({ ok: true });
  });

  socket.on('message:send', (payload, ack) => {
    if (typeof ack !== 'function') return;
    const body = payload?.body;
    if (typeof payload?.roomId !== 'string' || !UUID.test(payload.roomId)) {
      ack(wsError('validation_failed', 'roomId must be a UUID'));
      return;
    }
    if (typeof body !== 'string' || body.length === 0 || Buffer.byteLength(body) > MAX_BODY_BYTES) {
      ack(wsError('validation_failed', `body must be 1..${MAX_BODY_BYTES} bytes`));
      return;
    }
    void (async () => {
      const client = await pool.connect();
      let row: MessageRow | 'refused';
      try {
        row = await appendMessage(client, agentId, payload);
      } finally {
        client.release();
      }
      if (row === 'refused') {
        ack(wsError('forbidden', 'join the room before sending to it'));
        return;
      }
      const message = toMessage(row);
      socket.to(`room:${payload.roomId}`).emit('message:new', message);
      ack({ ok: true, message });
    })().catch((error: unknown) => {
      console.error('baseline: message:send failed:', errorMessage(error));
      ack(wsError('internal', 'internal error'));
    });
  });
});

httpServer.listen(port, host, () => {
  console.log(`baseline listening on http://${host}:${port}`);
});

onShutdown(async () => {
  await io.close();
  await pool.end();
});
