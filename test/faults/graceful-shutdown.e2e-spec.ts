import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { PROCESS_TEST_TIMEOUT_MS } from '../support/run-process';
import { ServerProcess, startServerProcess } from '../support/server-process';
import {
  ClientSocket,
  closeAllSockets,
  collect,
  connectError,
  connectSocket,
  request,
} from '../support/sockets';
import { createTestDatabase } from '../support/test-database';

const SHUTDOWN_TIMEOUT_MS = 10_000;
const SENDERS = 4;

interface Load {
  acked: Array<{ id: string; seq: number; clientMsgId: string }>;
  refused: string[];
  unanswered: string[];
  done: Promise<void>;
}

/** Each socket sends one message after another until its server refuses or goes away. */
function sendContinuously(sockets: ClientSocket[], roomId: string, tag: string): Load {
  const load: Load = { acked: [], refused: [], unanswered: [], done: Promise.resolve() };
  const deadline = Date.now() + 30_000;
  const loop = async (socket: ClientSocket, index: number): Promise<void> => {
    for (let n = 0; socket.connected && Date.now() < deadline; n += 1) {
      const clientMsgId = `${tag}-${index}-${n}`;
      try {
        const ack = await request(
          socket,
          'message:send',
          { roomId, body: `${tag} ${index}.${n}`, clientMsgId },
          3000,
        );
        if (ack.ok) {
          load.acked.push({ id: ack.message.id, seq: ack.message.seq, clientMsgId });
        } else {
          load.refused.push(ack.error.code);
          if (ack.error.code === 'unavailable') return;
        }
      } catch {
        load.unanswered.push(clientMsgId);
        return;
      }
    }
  };
  load.done = Promise.all(sockets.map((socket, i) => loop(socket, i))).then(() => undefined);
  return load;
}

/** Polls /readyz from right after the signal until the listener is gone; records every answer. */
async function pollReadiness(url: string, untilMs: number): Promise<Array<number | 'refused'>> {
  const seen: Array<number | 'refused'> = [];
  while (Date.now() < untilMs) {
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      seen.push(response.status);
      await response.arrayBuffer();
    } catch {
      seen.push('refused');
      break;
    }
  }
  return seen;
}

async function storedMessages(
  url: string,
  roomId: string,
): Promise<Array<{ id: string; seq: number; clientMsgId: string }>> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    const result = await pg.query<{ id: string; seq: string; client_msg_id: string }>(
      'SELECT id, seq, client_msg_id FROM messages WHERE room_id = $1 ORDER BY seq',
      [roomId],
    );
    return result.rows.map((row) => ({
      id: row.id,
      seq: Number(row.seq),
      clientMsgId: row.client_msg_id,
    }));
  } finally {
    await pg.end();
  }
}

/** Processes whose command line mentions `text` (the embedded cluster runs `postgres -D <dir>/pg`). */
function processesMentioning(text: string): string {
  const found = spawnSync('pgrep', ['-af', text], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : '';
}

describe('graceful shutdown (SIGTERM) under load', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: ServerProcess | undefined;
  let agent: TestAgent;
  let roomId: string;
  // With REDIS_URL the node also runs the Redis adapter and presence store, which must close too.
  const redisUrl = process.env.REDIS_URL;
  const redisKeyPrefix = `test-shutdown-${process.pid}-${Date.now()}:`;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServerProcess({
      DATABASE_URL: db.url,
      ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: redisKeyPrefix } : {}),
    });
    const http = new Http(server.url);
    agent = await createAgent(http, server.adminToken);
    roomId = (await http.post('/v1/rooms', { name: 'shutdown' }, agent.jwt)).body.id;
  }, PROCESS_TEST_TIMEOUT_MS);

  afterAll(async () => {
    closeAllSockets();
    await server?.stop('SIGKILL');
    await db?.drop();
  });

  it('turns unready at once, refuses new sockets, notifies clients, loses nothing acked and exits 0 in time', async () => {
    const node = server!;
    const sockets = await Promise.all(
      Array.from({ length: SENDERS }, () => connectSocket(node.url, agent.jwt)),
    );
    for (const socket of sockets) await request(socket, 'room:join', { roomId });
    const notices = sockets.map((socket) => collect(socket, 'server:shutdown'));
    const load = sendContinuously(sockets, roomId, 'term');
    await new Promise((warm) => setTimeout(warm, 1000));
    const ackedBeforeSignal = load.acked.length;

    const exited = node.stop('SIGTERM');
    const readiness = pollReadiness(node.url, Date.now() + SHUTDOWN_TIMEOUT_MS);
    // A new handshake while the node drains is refused (by the drain check, or by a closed port).
    const handshake = await connectError(node.url, agent.jwt);
    const result = await exited;
    const statuses = await readiness;
    await load.done;

    console.log(
      `SIGTERM under load (${SENDERS} senders, ${ackedBeforeSignal} acks in the first second): exit ${String(result.code)} after ${result.elapsedMs} ms; ` +
        `/readyz after the signal: ${statuses.join(',')}; handshake refused with "${handshake.data?.code ?? handshake.message}"; ` +
        `${load.acked.length} acked, ${load.refused.length} refused (${[...new Set(load.refused)].join(',')}), ${load.unanswered.length} unanswered`,
    );
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.elapsedMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    // Never ready again once it said 503 (the first poll may beat the signal's delivery).
    const firstDown = statuses.findIndex((status) => status !== 200);
    expect(firstDown).toBeGreaterThanOrEqual(0);
    expect(statuses.slice(firstDown)).not.toContain(200);
    expect(
      statuses.filter((status) => status !== 200 && status !== 503 && status !== 'refused'),
    ).toEqual([]);

    expect(handshake.data?.code ?? 'transport').toMatch(/^(unavailable|transport)$/);

    for (const seen of notices) {
      expect(seen).toHaveLength(1);
      expect(seen[0].reconnectInMs).toBeGreaterThanOrEqual(500);
    }
    expect(load.refused.every((code) => code === 'unavailable')).toBe(true);

    // Nothing acknowledged is lost; in-flight sends were finished, not cut off.
    const stored = await storedMessages(db.url, roomId);
    const storedIds = new Set(stored.map((m) => m.id));
    expect(load.acked.filter((ack) => !storedIds.has(ack.id))).toEqual([]);
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    const ackedIds = new Set(load.acked.map((ack) => ack.id));
    expect(stored.filter((m) => !ackedIds.has(m.id))).toEqual([]);

    if (redisUrl) {
      // The node withdrew its presence lease and sets instead of leaving them to expire.
      const redis = new Redis(redisUrl);
      try {
        expect(await redis.keys(`${redisKeyPrefix}presence:*`)).toEqual([]);
      } finally {
        redis.disconnect();
      }
    }
  }, 60_000);
});

/** Blocks every message insert (reads go on) until the returned transaction ends. */
async function lockMessagesTable(url: string): Promise<Client> {
  const locker = new Client({ connectionString: url });
  // The server may end this session (a fast shutdown of the embedded cluster).
  locker.on('error', () => undefined);
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE messages IN EXCLUSIVE MODE');
  return locker;
}

async function waitForLockWaiters(pg: Client, database: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    // `pg` is the locker, inside its transaction: pg_stat_activity would show the snapshot taken
    // at its first read in that transaction all along (a backend that connects later, such as
    // the message writer's connection opened by the first send, would never appear).
    await pg.query('SELECT pg_stat_clear_snapshot()');
    const waiting = await pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
      [database],
    );
    if (Number(waiting.rows[0].n) > 0) return;
    if (Date.now() > deadline) throw new Error('no send reached the database');
    await new Promise((tick) => setTimeout(tick, 20));
  }
}

/** Resolves once the server no longer accepts TCP connections (its HTTP server is closing). */
async function waitUntilRefused(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const accepted = await new Promise<boolean>((done) => {
      const probe = connect({ host: '127.0.0.1', port }, () => {
        probe.destroy();
        done(true);
      });
      probe.once('error', () => done(false));
    });
    if (!accepted) return;
    await new Promise((tick) => setTimeout(tick, 20));
  }
  throw new Error('the server kept accepting connections');
}

/**
 * An HTTP/1.1 keep-alive client whose POST is still in progress (headers sent, body not yet),
 * like any REST client or load balancer with a request in flight when the node starts closing.
 */
async function startSlowPost(
  port: number,
  path: string,
  token: string,
  body: string,
): Promise<{ finish: () => Promise<string>; socket: Socket }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((done, fail) => {
    socket.once('connect', () => done());
    socket.once('error', fail);
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: keep-alive\r\n\r\n${body.slice(0, half)}`,
  );
  return {
    socket,
    finish: async () => {
      socket.write(body.slice(half));
      const deadline = Date.now() + 5000;
      while (!/\r\n\r\n/.test(received) && Date.now() < deadline)
        await new Promise((tick) => setTimeout(tick, 10));
      return received;
    },
  };
}

describe('graceful shutdown with requests in flight', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: ServerProcess | undefined;
  let locker: Client | undefined;
  let slow: Socket | undefined;

  afterAll(async () => {
    closeAllSockets();
    slow?.destroy();
    await locker?.end().catch(() => undefined);
    await server?.stop('SIGKILL');
    await db?.drop();
  });

  it('drains: /readyz 503 and handshakes refused while socket sends and a keep-alive REST request in progress finish', async () => {
    db = await createTestDatabase();
    server = await startServerProcess({ DATABASE_URL: db.url });
    const http = new Http(server.url);
    const agent = await createAgent(http, server.adminToken);
    const roomId = (await http.post('/v1/rooms', { name: 'in-flight' }, agent.jwt)).body.id;
    const sockets = await Promise.all(
      Array.from({ length: SENDERS }, () => connectSocket(server!.url, agent.jwt)),
    );
    for (const socket of sockets) await request(socket, 'room:join', { roomId });

    // Socket sends wait inside the database; a REST send is half-way through its upload.
    locker = await lockMessagesTable(db.url);
    const inFlight = sockets.map((socket, i) =>
      request(
        socket,
        'message:send',
        { roomId, body: `in flight ${i}`, clientMsgId: `f-${i}` },
        10_000,
      ),
    );
    await waitForLockWaiters(locker, db.name);
    const post = await startSlowPost(
      server.port,
      `/v1/rooms/${roomId}/messages`,
      agent.jwt,
      JSON.stringify({ body: 'rest in flight', clientMsgId: 'rest-in-flight' }),
    );
    slow = post.socket;

    const signalledAt = Date.now();
    const exited = server.stop('SIGTERM');
    let ready = await http.get('/readyz');
    for (let i = 0; i < 20 && ready.status === 200; i += 1) ready = await http.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({
      status: 'unavailable',
      checks: { database: 'up', shutdown: 'draining' },
    });
    const handshake = await connectError(server.url, agent.jwt);
    expect(handshake.data).toEqual({ code: 'unavailable', message: expect.any(String) });
    const late = await request(sockets[0], 'message:send', { roomId, body: 'late' });
    expect(late).toEqual({
      ok: false,
      error: { code: 'unavailable', message: expect.any(String) },
    });

    // The socket sends finish and are acked; then the node stops listening.
    await new Promise((hold) => setTimeout(hold, 500));
    await locker.query('COMMIT');
    const acks = await Promise.all(inFlight);
    expect(acks.map((ack) => ack.ok)).toEqual(sockets.map(() => true));
    await waitUntilRefused(server.port);

    // The REST request still in progress is answered, and its keep-alive connection must not
    // hold the process open afterwards.
    const answer = await post.finish();
    const result = await exited;
    console.log(
      `SIGTERM with ${SENDERS} socket sends held in the database and 1 REST request in progress: exit ${String(result.code)} ${Date.now() - signalledAt} ms after the signal`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 201 /);
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.elapsedMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    const stored = await storedMessages(db.url, roomId);
    expect(stored.map((m) => m.clientMsgId).sort()).toEqual(
      [...acks.map((ack) => ack.message.clientMsgId), 'rest-in-flight'].sort(),
    );
  }, 60_000);
});

/** The URL of the embedded cluster a server process runs in `dataDir` (port from postmaster.pid). */
function embeddedUrl(dataDir: string): string {
  const password = readFileSync(join(dataDir, 'pg-password'), 'utf8').trim();
  const port = readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')
    .split('\n')[3]
    .trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/** Clean-up after a failed expectation: a postmaster left behind by a killed server. */
async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while (processesMentioning(dataDir) !== '' && Date.now() < deadline)
    await new Promise((tick) => setTimeout(tick, 100));
}

describe('graceful shutdown with the embedded PostgreSQL', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'agenthub-embedded-shutdown-test-'));
  });

  let locker: Client | undefined;

  afterAll(async () => {
    closeAllSockets();
    await locker?.end().catch(() => undefined);
    await server?.stop('SIGKILL');
    await stopOrphanedPostgres(dataDir);
    if (processesMentioning(dataDir) === '') rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 0 on SIGTERM, stops its PostgreSQL and keeps every acked message in the data dir', async () => {
    server = await startServerProcess({ AGENTHUB_DATA_DIR: dataDir });
    expect(processesMentioning(dataDir)).toMatch(/postgres/);
    const http = new Http(server.url);
    const agent = await createAgent(http, server.adminToken);
    const roomId = (await http.post('/v1/rooms', { name: 'embedded' }, agent.jwt)).body.id;
    const socket = await connectSocket(server.url, agent.jwt);
    await request(socket, 'room:join', { roomId });
    const load = sendContinuously([socket], roomId, 'embedded');
    await new Promise((warm) => setTimeout(warm, 500));

    const result = await server.stop('SIGTERM');
    await load.done;
    console.log(
      `embedded PostgreSQL: SIGTERM to exit ${result.elapsedMs} ms (${load.acked.length} acked under load)`,
    );
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.elapsedMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(processesMentioning(dataDir)).toBe('');
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

    // The data survives: the same cluster, started again, holds every acknowledged message.
    const pg = new EmbeddedPostgres({ dataDir });
    await pg.start();
    try {
      const stored = await storedMessages(pg.url('postgres'), roomId);
      const storedIds = new Set(stored.map((m) => m.id));
      expect(load.acked.length).toBeGreaterThan(0);
      expect(load.acked.filter((ack) => !storedIds.has(ack.id))).toEqual([]);
      expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    } finally {
      await pg.stop();
    }
    expect(processesMentioning(dataDir)).toBe('');
  }, 90_000);

  it('stops its PostgreSQL even when SHUTDOWN_TIMEOUT runs out', async () => {
    server = await startServerProcess({ AGENTHUB_DATA_DIR: dataDir, SHUTDOWN_TIMEOUT: '1' });
    const http = new Http(server.url);
    const agent = await createAgent(http, server.adminToken);
    const roomId = (await http.post('/v1/rooms', { name: 'stuck' }, agent.jwt)).body.id;
    const socket = await connectSocket(server.url, agent.jwt);
    await request(socket, 'room:join', { roomId });
    // A send stuck in the database for longer than the whole shutdown budget.
    locker = await lockMessagesTable(embeddedUrl(dataDir));
    void request(socket, 'message:send', { roomId, body: 'stuck' }, 10_000).catch(() => undefined);
    await waitForLockWaiters(locker, 'postgres');

    const result = await server.stop('SIGTERM');
    console.log(
      `SIGTERM with a send stuck past SHUTDOWN_TIMEOUT=1: exit ${String(result.code)} after ${result.elapsedMs} ms`,
    );
    expect(result.code).toBe(1);
    expect(result.elapsedMs).toBeLessThan(3000);
    const deadline = Date.now() + 10_000;
    while (processesMentioning(dataDir) !== '' && Date.now() < deadline)
      await new Promise((tick) => setTimeout(tick, 100));
    expect(processesMentioning(dataDir)).toBe('');
  }, 60_000);
});
