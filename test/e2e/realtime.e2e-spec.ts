import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { PresenceService } from '../../src/realtime/presence.service';
import { SocketSessions } from '../../src/realtime/socket-sessions';
import { createAgent, exchange, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { craftJwt, decodeJwt } from '../support/jwt';
import {
  closeAllSockets,
  collect,
  connectError,
  connectSocket,
  nextEvent,
  request,
  waitFor,
} from '../support/sockets';
import { bootTestApp, TestApp, TEST_JWT_SECRET } from '../support/test-app';

describe('socket.io sessions, presence and typing', () => {
  let t: TestApp;
  let http: Http;
  let alice: TestAgent;
  let bob: TestAgent;
  let roomId: string;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    alice = await createAgent(http, t.adminToken);
    bob = await createAgent(http, t.adminToken);
  });
  beforeEach(async () => {
    roomId = (
      await http.post(
        '/v1/rooms',
        { name: `rt-${Date.now()}-${Math.floor(Math.random() * 1e6)}` },
        alice.jwt,
      )
    ).body.id;
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  /** A valid JWT for `agent` that expires in `seconds`. */
  const shortLived = (agent: TestAgent, seconds: number) => {
    const claims = decodeJwt(agent.jwt).payload;
    const now = Math.floor(Date.now() / 1000);
    return craftJwt({ ...claims, iat: now, exp: now + seconds }, { secret: TEST_JWT_SECRET });
  };

  describe('handshake', () => {
    it('refuses a connection without a token, with an API token, or with a bad JWT', async () => {
      for (const token of [
        undefined,
        alice.apiToken,
        'not-a-jwt',
        craftJwt({ sub: alice.agent.id }, { alg: 'none' }),
      ]) {
        const error = await connectError(t.url, token);
        expect(error.data).toMatchObject({ code: 'unauthorized' });
      }
    });

    it('checks Origin against ALLOWED_ORIGINS; agents without Origin are allowed', async () => {
      await expect(
        connectSocket(t.url, alice.jwt, { origin: 'http://localhost:3000' }),
      ).resolves.toBeDefined();
      const refused = await connectError(t.url, alice.jwt, { origin: 'http://evil.com' });
      expect(refused.message).toBeTruthy();
      await expect(connectSocket(t.url, alice.jwt)).resolves.toBeDefined();
    });

    it('declines per-message deflate when a client offers it, and masks with bufferutil', async () => {
      const url = `${t.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
      const socket = new WebSocket(url, { perMessageDeflate: true });
      try {
        const upgrade = await new Promise<IncomingMessage>((resolve, reject) => {
          socket.once('upgrade', resolve);
          socket.once('error', reject);
        });
        expect(upgrade.statusCode).toBe(101);
        expect(upgrade.headers['sec-websocket-extensions']).toBeUndefined();
      } finally {
        socket.terminate();
      }
      // ws masks and unmasks frames with bufferutil: its native build, not its JavaScript
      // fallback (which bufferutil loads silently when no build fits this platform).
      expect(process.env.WS_NO_BUFFER_UTIL).toBeUndefined();
      const load = createRequire(__filename);
      expect(load('bufferutil')).not.toBe(load('bufferutil/fallback'));
    });
  });

  describe('presence', () => {
    it('stays online while one of two sockets of an agent is in the room, offline after both leave', async () => {
      const watcher = await connectSocket(t.url, bob.jwt);
      await request(watcher, 'room:join', { roomId });
      const updates = collect(watcher, 'presence:update');
      const first = await connectSocket(t.url, alice.jwt);
      const second = await connectSocket(t.url, alice.jwt);
      await request(first, 'room:join', { roomId });
      await request(second, 'room:join', { roomId });
      await waitFor(() => updates.length >= 1);
      const status = async () =>
        (await request(watcher, 'presence:list', { roomId })).agents.find(
          (a: any) => a.agentId === alice.agent.id,
        )?.status;
      expect(await status()).toBe('online');

      await request(first, 'room:leave', { roomId });
      expect(await status()).toBe('online');
      const rest = await http.get(`/v1/rooms/${roomId}/presence`, bob.jwt);
      expect(rest.body.agents).toContainEqual({
        agentId: alice.agent.id,
        name: alice.agent.name,
        status: 'online',
      });

      second.disconnect();
      await waitFor(() =>
        updates.some((u) => u.agentId === alice.agent.id && u.status === 'offline'),
      );
      expect(await status()).toBe('offline');
      expect(updates.filter((u) => u.agentId === alice.agent.id)).toEqual([
        { roomId, agentId: alice.agent.id, status: 'online' },
        { roomId, agentId: alice.agent.id, status: 'offline' },
      ]);
    });

    it('drops all per-socket state on disconnect', async () => {
      const presence = t.app.get(PresenceService);
      const sessions = t.app.get(SocketSessions);
      await waitFor(
        () => presence.trackedEntries === 0 && sessions.size === 0,
        5000,
        'earlier sockets to close',
      );
      const sockets = await Promise.all([
        connectSocket(t.url, alice.jwt),
        connectSocket(t.url, bob.jwt),
      ]);
      for (const socket of sockets) await request(socket, 'room:join', { roomId });
      expect(presence.trackedEntries).toBe(2);
      expect(sessions.size).toBe(2);
      for (const socket of sockets) socket.disconnect();
      await waitFor(
        () => presence.trackedEntries === 0 && sessions.size === 0,
        5000,
        'state to be dropped',
      );
    });
  });

  it('relays typing to the other sockets in the room only', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    const b = await connectSocket(t.url, bob.jwt);
    await request(a, 'room:join', { roomId });
    await request(b, 'room:join', { roomId });
    const atA = collect(a, 'typing');
    const seen = nextEvent(b, 'typing');
    a.emit('typing', { roomId });
    expect(await seen).toEqual({ roomId, agentId: alice.agent.id });
    await new Promise((done) => setTimeout(done, 100));
    expect(atA).toHaveLength(0);
  });

  describe('token lifetime', () => {
    it('disconnects a socket whose JWT expires, saying why', async () => {
      const socket = await connectSocket(t.url, shortLived(alice, 2));
      const error = nextEvent(socket, 'error', 5000);
      const disconnected = nextEvent(socket, 'disconnect', 5000);
      expect(await error).toMatchObject({
        code: 'unauthorized',
        message: expect.stringMatching(/expired/),
      });
      expect(await disconnected).toBe('io server disconnect');
    });

    it('keeps a socket that sent auth:refresh in time', async () => {
      const socket = await connectSocket(t.url, shortLived(alice, 2));
      const fresh = await exchange(http, alice.apiToken);
      const refreshed = await request(socket, 'auth:refresh', { token: fresh });
      expect(refreshed.ok).toBe(true);
      expect(Date.parse(refreshed.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
      await new Promise((done) => setTimeout(done, 2600));
      expect(socket.connected).toBe(true);
      const other = await request(socket, 'auth:refresh', { token: bob.jwt });
      expect(other).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    });

    it('cuts the sockets of an agent an admin disables', async () => {
      const victim = await createAgent(http, t.adminToken);
      const socket = await connectSocket(t.url, victim.jwt);
      const error = nextEvent(socket, 'error');
      const disconnected = nextEvent(socket, 'disconnect');
      await http.patch(`/v1/agents/${victim.agent.id}`, { disabled: true }, t.adminToken);
      expect(await error).toMatchObject({ code: 'unauthorized', message: 'agent disabled' });
      expect(await disconnected).toBe('io server disconnect');
      expect((await connectError(t.url, victim.jwt)).data).toMatchObject({ code: 'unauthorized' });
    });

    it('cuts the sockets of an agent whose role an admin changes', async () => {
      const promoted = await createAgent(http, t.adminToken);
      const socket = await connectSocket(t.url, promoted.jwt);
      const disconnected = nextEvent(socket, 'disconnect');
      await http.patch(`/v1/agents/${promoted.agent.id}`, { role: 'admin' }, t.adminToken);
      expect(await disconnected).toBe('io server disconnect');
    });

    it('cuts the sockets whose JWT came from a revoked API token', async () => {
      const victim = await createAgent(http, t.adminToken);
      const socket = await connectSocket(t.url, victim.jwt);
      const bystander = await connectSocket(t.url, bob.jwt);
      const disconnected = nextEvent(socket, 'disconnect');
      const [token] = (await http.get(`/v1/agents/${victim.agent.id}/tokens`, t.adminToken)).body;
      await http.delete(`/v1/tokens/${token.id}`, t.adminToken);
      expect(await disconnected).toBe('io server disconnect');
      expect(bystander.connected).toBe(true);
    });

    it('cuts the sockets of a JWT revoked by logout, not those of the same agent on another JWT', async () => {
      const loggingOut = await exchange(http, alice.apiToken);
      const other = await exchange(http, alice.apiToken);
      const cut = await connectSocket(t.url, loggingOut);
      const kept = await connectSocket(t.url, other);
      const disconnected = nextEvent(cut, 'disconnect');
      expect((await http.post('/v1/auth/logout', {}, loggingOut)).status).toBe(204);
      expect(await disconnected).toBe('io server disconnect');
      expect(kept.connected).toBe(true);
    });
  });

  it('tells sockets to reconnect and closes them when the server shuts down', async () => {
    const node = await bootTestApp();
    const nodeHttp = new Http(node.url);
    const agent = await createAgent(nodeHttp, node.adminToken);
    const socket = await connectSocket(node.url, agent.jwt);
    const notice = nextEvent(socket, 'server:shutdown');
    const disconnected = nextEvent(socket, 'disconnect');
    await node.close();
    expect((await notice).reconnectInMs).toBeGreaterThanOrEqual(500);
    // A transport close, not a server kick: socket.io clients reconnect from it on their own.
    expect(await disconnected).toBe('transport close');
  });
});
