import Redis from 'ioredis';
import { io } from 'socket.io-client';
import { RateLimitService } from '../../src/rate-limit/rate-limit.service';
import { EventsGateway } from '../../src/realtime/events.gateway';
import { PresenceService } from '../../src/realtime/presence.service';
import { SocketLimits } from '../../src/realtime/socket-limits';
import { SocketSessions } from '../../src/realtime/socket-sessions';
import type { AgentServer } from '../../src/realtime/socket-types';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { ClientSocket, request, waitFor } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';
import { hasFastProperties } from '../support/v8-shapes';

const CYCLES = 1000;
const WORKERS = 10;

/** The emitters an idle WebSocket connection is made of, server side, by name. */
function connectionEmitters(socket: {
  conn: unknown;
}): Record<string, { _events?: object } | undefined> {
  type E = { _events?: object };
  const conn = socket.conn as E & {
    transport: E & { socket?: E & { _socket?: E; _receiver?: E } };
  };
  const ws = conn.transport.socket;
  return {
    socket: socket as E,
    engineSocket: conn,
    transport: conn.transport,
    ws,
    tcp: ws?._socket,
    receiver: ws?._receiver,
  };
}

/** A fresh client socket; `connected` settles on its first connect or connect_error. */
function open(
  url: string,
  jwt: string,
  transports: string[] = ['websocket'],
): { socket: ClientSocket; connected: Promise<void> } {
  const socket: ClientSocket = io(url, {
    auth: { token: jwt },
    transports,
    reconnection: false,
    forceNew: true,
  });
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, connected };
}

/** One agent's connect / room:join / (sometimes send) / disconnect, the socket dropped afterwards. */
async function cycle(url: string, jwt: string, roomId: string, n: number): Promise<void> {
  const { socket, connected } = open(url, jwt);
  try {
    await connected;
    const joined = await request(socket, 'room:join', { roomId, sinceSeq: 0 });
    if (!joined.ok) throw new Error(`room:join refused: ${JSON.stringify(joined.error)}`);
    if (n % 10 === 0) {
      const sent = await request(socket, 'message:send', { roomId, body: `cycle ${n}` });
      if (!sent.ok) throw new Error(`message:send refused: ${JSON.stringify(sent.error)}`);
      socket.emit('typing', { roomId });
    }
  } finally {
    // Half leave politely, half drop the transport (a crashed client or a cut connection).
    if (n % 2 === 0) socket.disconnect();
    else socket.io.engine.close();
  }
}

interface Snapshot {
  presenceEntries: number;
  socketSessions: number;
  socketLimitBuckets: number;
  rateLimitKeys: number;
  ioSockets: number;
  engineClients: number;
  wsConnectionsGauge: number;
}

/**
 * Every in-process map is bounded by what is live: after many sockets have come and gone, the
 * presence store, session timers, per-socket limit buckets, rate-limit windows, socket.io's own
 * tables and the ws_connections gauge are back where they started.
 */
function hygieneSuite(name: string, env: Record<string, string>, cycles: number): void {
  describe(name, () => {
    let t: TestApp;
    let http: Http;
    let agents: TestAgent[];
    let roomId: string;

    beforeAll(async () => {
      t = await bootTestApp(env);
      http = new Http(t.url);
      agents = [];
      for (let i = 0; i < WORKERS; i += 1) agents.push(await createAgent(http, t.adminToken));
      roomId = (await http.post('/v1/rooms', { name: 'hygiene' }, agents[0].jwt)).body.id;
    });
    afterAll(() => t?.close());

    // The gateway's socket.io server (a private field: read for inspection only).
    const ioServer = (): AgentServer =>
      t.app.get<EventsGateway, { server: AgentServer }>(EventsGateway).server;

    /** The maps only (cheap enough to sample between cycles). */
    const maps = (): Omit<Snapshot, 'wsConnectionsGauge'> => ({
      presenceEntries: t.app.get(PresenceService).trackedEntries,
      socketSessions: t.app.get(SocketSessions).size,
      socketLimitBuckets: t.app.get(SocketLimits).size,
      rateLimitKeys: t.app.get(RateLimitService).trackedKeys,
      ioSockets: ioServer().sockets.sockets.size,
      engineClients: ioServer().engine.clientsCount,
    });

    async function snapshot(): Promise<Snapshot> {
      const metrics = (await http.get<string>('/metrics')).body;
      const gauge = /^ws_connections (\d+)$/m.exec(metrics);
      return { ...maps(), wsConnectionsGauge: gauge ? Number(gauge[1]) : NaN };
    }

    it('keeps neither the JWT nor the upgrade request of an admitted socket, and compact listener tables', async () => {
      for (const transports of [['websocket'], ['polling', 'websocket']]) {
        const { socket, connected } = open(t.url, agents[0].jwt, transports);
        try {
          await connected;
          if (transports.length > 1)
            await waitFor(
              () => socket.io.engine.transport.name === 'websocket',
              5000,
              'upgraded to WebSocket',
            );
          const [server] = [...ioServer().sockets.sockets.values()];
          expect(server.handshake.auth).toEqual({});
          expect(server.conn.request).toBeUndefined();
          // What the handshake was built from stays: headers, address, query.
          expect(server.handshake.headers.host).toBeDefined();
          expect(server.handshake.query.EIO).toBe('4');
          // Every listener table of the connection is a fast-mode object, not a hash table.
          if (transports.length > 1)
            await waitFor(
              () => server.conn.transport.name === 'websocket',
              5000,
              'server side upgraded',
            );
          const tables = Object.entries(connectionEmitters(server)).map(([name, emitter]) => [
            name,
            emitter?._events !== undefined && hasFastProperties(emitter._events),
          ]);
          expect(Object.fromEntries(tables)).toEqual({
            socket: true,
            engineSocket: true,
            transport: true,
            ws: true,
            tcp: true,
            receiver: true,
          });
          // And the socket still works, over the upgraded transport too.
          const joined = await request(socket, 'room:join', { roomId, sinceSeq: 0 });
          expect(joined.ok).toBe(true);
        } finally {
          socket.disconnect();
        }
        await waitFor(() => ioServer().sockets.sockets.size === 0, 5000, 'socket gone');
      }
    });

    it(`leaves every in-process map and gauge at its starting size after ${cycles} cycles`, async () => {
      // Warm-up: the per-IP keys (handshakes, anonymous /metrics) exist before the baseline.
      for (let n = 0; n < WORKERS; n += 1) await cycle(t.url, agents[n].jwt, roomId, n + 1);
      await waitFor(async () => (await snapshot()).ioSockets === 0, 5000, 'warm-up sockets gone');
      const before = await snapshot();
      expect(before.wsConnectionsGauge).not.toBeNaN();

      const started = Date.now();
      let next = 0;
      const peak = { presenceEntries: 0, socketSessions: 0, socketLimitBuckets: 0, ioSockets: 0 };
      await Promise.all(
        agents.map(async (agent) => {
          while (next < cycles) {
            const n = next;
            next += 1;
            await cycle(t.url, agent.jwt, roomId, n);
            const now = maps();
            for (const key of Object.keys(peak) as Array<keyof typeof peak>)
              peak[key] = Math.max(peak[key], now[key]);
          }
        }),
      );
      const cyclesMs = Date.now() - started;

      let after = await snapshot();
      await waitFor(
        async () => JSON.stringify((after = await snapshot())) === JSON.stringify(before),
        5000,
        'maps back at their starting size',
      ).catch(() => undefined);
      console.log(
        `${name}: ${cycles} cycles (${WORKERS} at a time) in ${cyclesMs} ms; peak ${JSON.stringify(peak)}; ` +
          `before ${JSON.stringify(before)}; after ${JSON.stringify(after)}`,
      );
      expect(after).toEqual(before);
      // The maps were really in use during the run (the check above is not vacuous).
      expect(Math.min(...Object.values(peak))).toBeGreaterThan(0);

      if (env.REDIS_URL) {
        // Nor does Redis keep per-room presence sets of sockets that are gone.
        const redis = new Redis(env.REDIS_URL);
        try {
          expect(await redis.keys(`${env.REDIS_KEY_PREFIX}presence:room:*`)).toEqual([]);
        } finally {
          redis.disconnect();
        }
      }

      // The sends of the cycles were stored: the load was real, not refused.
      const room = await http.get(`/v1/rooms/${roomId}`, agents[0].jwt);
      expect(room.body.lastSeq).toBe(Math.ceil(cycles / 10) + 1);
    }, 60_000);
  });
}

hygieneSuite('memory hygiene: connect / join / disconnect cycles', {}, CYCLES);

// With Redis, presence also lives in Redis sets and rate limits in Redis counters (the in-process
// fallback store must stay empty); a shorter run checks the same maps.
const redisUrl = process.env.REDIS_URL;
(redisUrl ? describe : describe.skip)('with REDIS_URL', () => {
  hygieneSuite(
    'memory hygiene on Redis',
    { REDIS_URL: redisUrl ?? '', REDIS_KEY_PREFIX: `test-hygiene-${process.pid}-${Date.now()}:` },
    300,
  );
});
