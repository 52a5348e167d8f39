import { WebSocket } from 'ws';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import {
  closeAllSockets,
  collect,
  connectError,
  connectSocket,
  nextEvent,
  request,
  waitFor,
} from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/** Pen-test checklist: "WebSocket Flood: Connect and send 50 events/s, verify rate limit triggers". */
describe('pen-test: socket.io flood, frames and caps', () => {
  let t: TestApp;
  let http: Http;
  let flooder: TestAgent;
  let control: TestAgent;
  let roomId: string;

  beforeAll(async () => {
    t = await bootTestApp({ RATE_LIMIT_WS_EVENTS: '30', RATE_LIMIT_WS_SOCKETS_PER_AGENT: '3' });
    http = new Http(t.url);
    flooder = await createAgent(http, t.adminToken);
    control = await createAgent(http, t.adminToken);
    roomId = (await http.post('/v1/rooms', { name: 'flood-room' }, flooder.jwt)).body.id;
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  const pace = (ms: number) => new Promise((done) => setTimeout(done, ms));

  it('refuses events beyond 30/s from a flooding socket while a control socket is unaffected', async () => {
    const flood = await connectSocket(t.url, flooder.jwt);
    const calm = await connectSocket(t.url, control.jwt);
    await pace(1100); // both buckets full
    const floodAcks: Array<Promise<any>> = [];
    const calmAcks: Array<Promise<any>> = [];
    // 4 s at 50 events/s from the flooder, 10 events/s from the control socket.
    const started = Date.now();
    for (let tick = 0; tick < 200; tick += 1) {
      floodAcks.push(request(flood, 'presence:list', { roomId }));
      if (tick % 5 === 0) calmAcks.push(request(calm, 'presence:list', { roomId }));
      await pace(20 - ((Date.now() - started) % 20));
    }
    const elapsedSeconds = (Date.now() - started) / 1000;
    const flooded = await Promise.all(floodAcks);
    const calmed = await Promise.all(calmAcks);
    const refused = flooded.filter((ack) => !ack.ok);
    const accepted = flooded.length - refused.length;
    // A full bucket (30) plus 30 per second, never more.
    expect(accepted).toBeGreaterThanOrEqual(30);
    expect(accepted).toBeLessThanOrEqual(30 + Math.ceil(30 * elapsedSeconds) + 1);
    expect(refused.length).toBeGreaterThan(20);
    expect(refused.every((ack) => ack.error.code === 'rate_limited')).toBe(true);
    expect(calmed.every((ack) => ack.ok)).toBe(true);
    expect(flood.connected).toBe(true);
    const metrics = await http.get('/metrics');
    expect(metrics.body).toMatch(/^rate_limit_hits_total\{transport="ws"\} [1-9]/m);
  });

  it('disconnects a socket that keeps flooding, saying why', async () => {
    const flood = await connectSocket(t.url, flooder.jwt);
    const errors = collect(flood, 'error');
    const disconnected = nextEvent(flood, 'disconnect', 10_000);
    for (let i = 0; i < 400; i += 1) flood.emit('typing', { roomId });
    expect(await disconnected).toBe('io server disconnect');
    expect(errors).toContainEqual({
      code: 'rate_limited',
      message: 'disconnected: sustained event flood',
    });
  });

  it('applies a per-agent override an admin sets', async () => {
    const slow = await createAgent(http, t.adminToken);
    await http.patch(
      `/v1/agents/${slow.agent.id}`,
      { rateLimits: { wsEventsPerSecond: 5 } },
      t.adminToken,
    );
    const jwt = (await http.post('/v1/auth/token', { apiToken: slow.apiToken })).body.accessToken;
    const socket = await connectSocket(t.url, jwt);
    const acks = await Promise.all(
      Array.from({ length: 10 }, () => request(socket, 'presence:list', { roomId })),
    );
    expect(acks.filter((ack) => ack.ok)).toHaveLength(5);
  });

  it('caps sockets per agent', async () => {
    const agent = await createAgent(http, t.adminToken);
    for (let i = 0; i < 3; i += 1) await connectSocket(t.url, agent.jwt);
    const refused = await connectError(t.url, agent.jwt);
    expect(refused.data).toMatchObject({ code: 'rate_limited' });
  });

  it('survives malformed and oversized frames and stays healthy', async () => {
    const url = `${t.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const frames: Array<string | Buffer> = [
      '42["message:send",{"roomId":', // truncated JSON
      '4299999999999999999999["x"]',
      '42[]',
      '42["message:send"]',
      '42[null,{"a":1}]',
      '9garbage',
      Buffer.from([0xff, 0xfe, 0x00, 0x01]),
      '42' + JSON.stringify(['message:send', { roomId, body: 'x'.repeat(300_000) }]),
    ];
    for (const frame of frames) {
      await new Promise<void>((resolve) => {
        const raw = new WebSocket(url);
        raw.on('error', () => resolve());
        raw.on('close', () => resolve());
        raw.on('message', (data: Buffer) => {
          const text = data.toString('utf8');
          if (text.startsWith('0')) {
            raw.send(`40${JSON.stringify({ token: flooder.jwt })}`);
          } else if (text.startsWith('40')) {
            raw.send(frame);
            setTimeout(() => raw.close(), 150);
          }
        });
      });
    }
    expect((await http.get('/healthz')).status).toBe(200);
    const socket = await connectSocket(t.url, flooder.jwt);
    await request(socket, 'room:join', { roomId });
    expect((await request(socket, 'message:send', { roomId, body: 'still serving' })).ok).toBe(
      true,
    );
  });

  it('caps handshakes per IP', async () => {
    const capped = await bootTestApp({ RATE_LIMIT_WS_HANDSHAKES: '3' });
    try {
      const agent = await createAgent(new Http(capped.url), capped.adminToken);
      for (let i = 0; i < 3; i += 1) (await connectSocket(capped.url, agent.jwt)).disconnect();
      const refused = await connectError(capped.url, agent.jwt);
      expect(refused.data).toMatchObject({ code: 'rate_limited' });
      await waitFor(async () => (await new Http(capped.url).get('/healthz')).status === 200);
    } finally {
      closeAllSockets();
      await capped.close();
    }
  });
});
