import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { startServerProcess, ServerProcess } from '../support/server-process';
import { closeAllSockets, collect, connectSocket, request, waitFor } from '../support/sockets';
import { createTestDatabase } from '../support/test-database';

/** Two server processes on one PostgreSQL and one Redis behave as one hub (needs REDIS_URL). */
const redisUrl = process.env.REDIS_URL;
(redisUrl ? describe : describe.skip)('multi-node on Redis', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: ServerProcess;
  let b: ServerProcess;
  let alice: TestAgent;
  let bob: TestAgent;
  let roomId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl!,
      REDIS_KEY_PREFIX: `test-${process.pid}-${Date.now()}:`,
      RATE_LIMIT_REST_ANON: '40',
    };
    a = await startServerProcess(env);
    b = await startServerProcess(env, { adminToken: a.adminToken });
    const http = new Http(a.url);
    alice = await createAgent(http, a.adminToken);
    bob = await createAgent(http, a.adminToken);
    roomId = (await http.post('/v1/rooms', { name: 'cluster' }, alice.jwt)).body.id;
  }, 120_000);
  afterEach(() => closeAllSockets());
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('delivers a message sent on one node to a socket on the other', async () => {
    const onA = await connectSocket(a.url, alice.jwt);
    const onB = await connectSocket(b.url, bob.jwt);
    await request(onA, 'room:join', { roomId });
    await request(onB, 'room:join', { roomId });
    const atB = collect(onB, 'message:new');
    const sent = await request(onA, 'message:send', { roomId, body: 'across nodes' });
    await waitFor(() => atB.length === 1, 5000, 'cross-node delivery');
    expect(atB[0]).toEqual(sent.message);
    const atA = collect(onA, 'message:new');
    const viaRestOnB = await new Http(b.url).post(
      `/v1/rooms/${roomId}/messages`,
      { body: 'rest on b' },
      bob.jwt,
    );
    await waitFor(
      () => atA.some((m) => m.id === viaRestOnB.body.id),
      5000,
      'REST fan-out across nodes',
    );
  });

  it('keeps seq gapless with concurrent sends split over both nodes', async () => {
    const onA = await connectSocket(a.url, alice.jwt);
    const onB = await connectSocket(b.url, bob.jwt);
    await request(onA, 'room:join', { roomId });
    await request(onB, 'room:join', { roomId });
    const before = (await new Http(a.url).get(`/v1/rooms/${roomId}`, alice.jwt)).body
      .lastSeq as number;
    const acks = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        request(i % 2 ? onA : onB, 'message:send', { roomId, body: `split ${i}` }),
      ),
    );
    expect(acks.every((ack) => ack.ok)).toBe(true);
    expect(acks.map((ack) => ack.message.seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 60 }, (_, i) => before + i + 1),
    );
  });

  it('shows presence cluster-wide', async () => {
    const onB = await connectSocket(b.url, bob.jwt);
    await request(onB, 'room:join', { roomId });
    const onA = await connectSocket(a.url, alice.jwt);
    await request(onA, 'room:join', { roomId });
    const listed = await request(onA, 'presence:list', { roomId });
    expect(listed.agents).toContainEqual({
      agentId: bob.agent.id,
      name: bob.agent.name,
      status: 'online',
    });
    const rest = await new Http(a.url).get(`/v1/rooms/${roomId}/presence`, alice.jwt);
    expect(rest.body.agents).toContainEqual({
      agentId: bob.agent.id,
      name: bob.agent.name,
      status: 'online',
    });
  });

  it('counts one REST rate limit across both nodes', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 50; i += 1)
      statuses.push((await new Http(i % 2 ? a.url : b.url).get('/v1/me')).status);
    // 40 per minute per IP in total (some already spent on token exchanges); unshared it would be 80.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(40);
    expect(statuses.slice(-10).every((s) => s === 429)).toBe(true);
  });

  it('shows a killed node’s agents offline within 30 s', async () => {
    const onB = await connectSocket(b.url, bob.jwt);
    await request(onB, 'room:join', { roomId });
    const onA = await connectSocket(a.url, alice.jwt);
    await request(onA, 'room:join', { roomId });
    const updates = collect(onA, 'presence:update');
    const killedAt = Date.now();
    await b.stop('SIGKILL');
    await waitFor(
      () => updates.some((u) => u.agentId === bob.agent.id && u.status === 'offline'),
      30_000,
      'bob offline',
    );
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(
      `multi-node: a SIGKILLed node's agent was shown offline after ${seconds.toFixed(1)} s`,
    );
    const listed = await request(onA, 'presence:list', { roomId });
    expect(listed.agents).toContainEqual({
      agentId: bob.agent.id,
      name: bob.agent.name,
      status: 'offline',
    });
  }, 45_000);
});
