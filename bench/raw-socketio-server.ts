/**
 * RAW: socket.io with no database, the floor for "CPU per delivered message" in bench/run.ts.
 * The same handshake (JWT verified with jsonwebtoken) and events as the baseline; a message gets
 * an id, an in-memory per-room seq and a timestamp, is broadcast to the room except the sender
 * and acknowledged. Environment: PORT, JWT_SECRET, HOST (default 127.0.0.1).
 *
 * With ROUND_TRIP_SOCKET (the path of bench/echo-server.ts's socket), each message waits for one
 * round trip to that process before it is broadcast and acknowledged: what a server that stores
 * first pays on this machine for waiting on another process, without any database work ("raw
 * socket.io + round trip" in bench/run.ts).
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { uuidv7 } from '../src/common/uuid';
import type { MessageDto } from '../src/contracts/rest';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/contracts/socket-events';
import {
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
type RawSocket = Socket<ClientToServerEvents, ServerToClientEvents, object, SocketData>;

const port = Number(process.env.PORT ?? 3200);
const host = process.env.HOST ?? '127.0.0.1';
const secret = verificationKey(requiredEnv('JWT_SECRET'));
const seqs = new Map<string, number>();

/** Deliveries waiting for their echo, oldest first: the echo answers byte for byte, in order. */
const awaitingEcho: Array<() => void> = [];
const roundTripPath = process.env.ROUND_TRIP_SOCKET;
const echo = roundTripPath ? connect(roundTripPath) : undefined;
const ECHO_BYTE = Buffer.from('x');
echo?.setNoDelay(true);
echo?.on('data', (chunk) => {
  for (let i = 0; i < chunk.length; i += 1) awaitingEcho.shift()?.();
});
echo?.on('error', (error) => {
  console.error(`echo socket: ${error.message}`);
  process.exit(1);
});

/** Runs `deliver` now, or after one round trip to the echo process when there is one. */
function afterRoundTrip(deliver: () => void): void {
  if (!echo) return deliver();
  awaitingEcho.push(deliver);
  echo.write(ECHO_BYTE);
}

const httpServer = createServer((request, response) => {
  if (request.url === '/healthz') sendJson(response, 200, { status: 'ok' });
  else sendError(response, 404, 'not_found', 'not found');
});

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

io.on('connection', (socket: RawSocket) => {
  const agentId = socket.data.agentId;

  socket.on('room:join', (payload, ack) => {
    if (typeof ack !== 'function') return;
    const roomId = payload?.roomId;
    if (typeof roomId !== 'string' || !UUID.test(roomId)) {
      ack({ ok: false, error: { code: 'validation_failed', message: 'roomId must be a UUID' } });
      return;
    }
    void socket.join(`room:${roomId}`);
    const now = new Date().toISOString();
    ack({
      ok: true,
      room: {
        id: roomId,
        name: roomId,
        topic: null,
        visibility: 'public',
        kind: 'group',
        createdBy: null,
        createdAt: now,
        archivedAt: null,
        lastSeq: seqs.get(roomId) ?? 0,
      },
      missed: [],
      hasMore: false,
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
      ack({ ok: false, error: { code: 'validation_failed', message: 'roomId must be a UUID' } });
      return;
    }
    if (typeof body !== 'string' || body.length === 0 || Buffer.byteLength(body) > MAX_BODY_BYTES) {
      ack({ ok: false, error: { code: 'validation_failed', message: 'body too long or empty' } });
      return;
    }
    const seq = (seqs.get(payload.roomId) ?? 0) + 1;
    seqs.set(payload.roomId, seq);
    const message: MessageDto = {
      id: uuidv7(),
      roomId: payload.roomId,
      seq,
      senderId: agentId,
      body,
      data: null,
      replyTo: null,
      clientMsgId: payload.clientMsgId ?? null,
      createdAt: new Date().toISOString(),
    };
    afterRoundTrip(() => {
      socket.to(`room:${payload.roomId}`).emit('message:new', message);
      ack({ ok: true, message });
    });
  });
});

httpServer.listen(port, host, () => {
  console.log(`raw socket.io listening on http://${host}:${port}`);
});

onShutdown(async () => {
  echo?.destroy();
  await io.close();
});
