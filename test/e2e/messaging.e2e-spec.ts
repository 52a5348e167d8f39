import { Client } from 'pg';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { closeAllSockets, collect, connectSocket, request, waitFor } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

describe('messaging over socket.io and REST', () => {
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
    const room = await http.post(
      '/v1/rooms',
      { name: `room-${Date.now()}-${Math.floor(Math.random() * 1e6)}` },
      alice.jwt,
    );
    expect(room.status).toBe(201);
    roomId = room.body.id;
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  it('fans a message out to another member, acks the sender, and does not echo it to the sender', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    const b = await connectSocket(t.url, bob.jwt);
    expect((await request(a, 'room:join', { roomId })).ok).toBe(true);
    expect((await request(b, 'room:join', { roomId })).ok).toBe(true);
    const atBob = collect(b, 'message:new');
    const atAlice = collect(a, 'message:new');
    const ack = await request(a, 'message:send', {
      roomId,
      body: 'hello bob',
      data: { kind: 'greeting' },
    });
    expect(ack).toMatchObject({
      ok: true,
      message: {
        roomId,
        seq: 1,
        senderId: alice.agent.id,
        body: 'hello bob',
        data: { kind: 'greeting' },
      },
    });
    await waitFor(() => atBob.length === 1, 5000, 'delivery to bob');
    expect(atBob[0]).toEqual(ack.message);
    await new Promise((done) => setTimeout(done, 100));
    expect(atAlice).toHaveLength(0);
    // What was delivered live is what history reads back from the row, createdAt to the ms.
    const history = await http.get(`/v1/rooms/${roomId}/messages`, alice.jwt);
    expect(history.body.items).toEqual([ack.message]);
  });

  it('keeps seq gapless and unique under 50 concurrent sends from two agents', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    const b = await connectSocket(t.url, bob.jwt);
    await request(a, 'room:join', { roomId });
    await request(b, 'room:join', { roomId });
    const sends = Array.from({ length: 50 }, (_, i) =>
      request(i % 2 ? a : b, 'message:send', { roomId, body: `m${i}` }),
    );
    const acks = await Promise.all(sends);
    expect(acks.every((ack) => ack.ok)).toBe(true);
    const seqs = acks.map((ack) => ack.message.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const history = await http.get(`/v1/rooms/${roomId}/messages?limit=200`, alice.jwt);
    expect(history.body.items.map((m: any) => m.seq)).toEqual(seqs);
  });

  it('returns the original message for a resend with the same clientMsgId and stores it once', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    await request(a, 'room:join', { roomId });
    const first = await request(a, 'message:send', { roomId, body: 'once', clientMsgId: 'c-1' });
    const again = await request(a, 'message:send', { roomId, body: 'once', clientMsgId: 'c-1' });
    expect(again).toEqual(first);
    const [x, y] = await Promise.all([
      request(a, 'message:send', { roomId, body: 'race', clientMsgId: 'c-2' }),
      request(a, 'message:send', { roomId, body: 'race', clientMsgId: 'c-2' }),
    ]);
    expect(x.message.id).toBe(y.message.id);
    const history = await http.get(`/v1/rooms/${roomId}/messages`, alice.jwt);
    expect(history.body.items.map((m: any) => m.seq)).toEqual([1, 2]);
  });

  it('answers conflict when a clientMsgId is reused for a different message', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    await request(a, 'room:join', { roomId });
    expect(
      (await request(a, 'message:send', { roomId, body: 'first', clientMsgId: 'reused' })).ok,
    ).toBe(true);
    const different = await request(a, 'message:send', {
      roomId,
      body: 'second',
      clientMsgId: 'reused',
    });
    expect(different).toMatchObject({ ok: false, error: { code: 'conflict' } });
  });

  it('delivers a message sent over REST to every subscribed socket', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    const b = await connectSocket(t.url, bob.jwt);
    await request(a, 'room:join', { roomId });
    await request(b, 'room:join', { roomId });
    const atA = collect(a, 'message:new');
    const atB = collect(b, 'message:new');
    const sent = await http.post(`/v1/rooms/${roomId}/messages`, { body: 'via rest' }, alice.jwt);
    expect(sent.status).toBe(201);
    await waitFor(() => atA.length === 1 && atB.length === 1, 5000, 'REST fan-out');
    expect(atA[0]).toEqual(sent.body);
  });

  it('pages history with after and before', async () => {
    for (let i = 1; i <= 7; i += 1) {
      expect(
        (await http.post(`/v1/rooms/${roomId}/messages`, { body: `n${i}` }, alice.jwt)).status,
      ).toBe(201);
    }
    const seqs = (page: any) => page.body.items.map((m: any) => m.seq);
    const first = await http.get(`/v1/rooms/${roomId}/messages?limit=3`, alice.jwt);
    expect(seqs(first)).toEqual([1, 2, 3]);
    expect(first.body.hasMore).toBe(true);
    const next = await http.get(`/v1/rooms/${roomId}/messages?after=3&limit=3`, alice.jwt);
    expect(seqs(next)).toEqual([4, 5, 6]);
    const last = await http.get(`/v1/rooms/${roomId}/messages?after=6&limit=3`, alice.jwt);
    expect(seqs(last)).toEqual([7]);
    expect(last.body.hasMore).toBe(false);
    const newest = await http.get(`/v1/rooms/${roomId}/messages?before=8&limit=2`, alice.jwt);
    expect(seqs(newest)).toEqual([6, 7]);
    const older = await http.get(`/v1/rooms/${roomId}/messages?before=6&limit=2`, alice.jwt);
    expect(seqs(older)).toEqual([4, 5]);
    const window = await http.get(`/v1/rooms/${roomId}/messages?after=2&before=5`, alice.jwt);
    expect(seqs(window)).toEqual([3, 4]);
    expect((await http.get(`/v1/rooms/${roomId}/messages?limit=201`, alice.jwt)).body.code).toBe(
      'validation_failed',
    );
  });

  it('lets a disconnected client recover exactly the messages it missed', async () => {
    const b = await connectSocket(t.url, bob.jwt);
    await request(b, 'room:join', { roomId });
    for (let i = 1; i <= 3; i += 1)
      await http.post(`/v1/rooms/${roomId}/messages`, { body: `before ${i}` }, alice.jwt);
    await waitFor(async () => (await http.get(`/v1/rooms/${roomId}`, bob.jwt)).body.lastSeq === 3);
    b.disconnect();
    for (let i = 1; i <= 4; i += 1)
      await http.post(`/v1/rooms/${roomId}/messages`, { body: `missed ${i}` }, alice.jwt);
    const again = await connectSocket(t.url, bob.jwt);
    const joined = await request(again, 'room:join', { roomId, sinceSeq: 3 });
    expect(joined.ok).toBe(true);
    expect(joined.missed.map((m: any) => [m.seq, m.body])).toEqual([
      [4, 'missed 1'],
      [5, 'missed 2'],
      [6, 'missed 3'],
      [7, 'missed 4'],
    ]);
    expect(joined.hasMore).toBe(false);
  });

  it('bounds recovery and says hasMore when more was missed than one ack carries', async () => {
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      // 250 messages straight into the table, as a long absence would leave them.
      await db.query(
        `WITH s AS (UPDATE rooms SET last_seq = 250 WHERE id = $1 RETURNING id)
         INSERT INTO messages (id, room_id, seq, sender_id, body)
         SELECT gen_random_uuid(), $1, g, $2, 'bulk ' || g FROM generate_series(1, 250) g`,
        [roomId, alice.agent.id],
      );
    } finally {
      await db.end();
    }
    const b = await connectSocket(t.url, bob.jwt);
    const joined = await request(b, 'room:join', { roomId, sinceSeq: 0 });
    expect(joined.missed).toHaveLength(200);
    expect(joined.hasMore).toBe(true);
    const rest = await request(b, 'room:join', { roomId, sinceSeq: joined.missed[199].seq });
    expect(rest.missed.map((m: any) => m.seq)).toEqual(
      Array.from({ length: 50 }, (_, i) => 201 + i),
    );
    expect(rest.hasMore).toBe(false);
  });

  it('never delivers a message whose insert failed, and leaves seq gapless', async () => {
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    await db.query(`
      CREATE OR REPLACE FUNCTION test_fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.body = 'explode' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
    await db.query(
      `CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_fail_insert()`,
    );
    try {
      const a = await connectSocket(t.url, alice.jwt);
      const b = await connectSocket(t.url, bob.jwt);
      await request(a, 'room:join', { roomId });
      await request(b, 'room:join', { roomId });
      const atB = collect(b, 'message:new');
      const failed = await request(a, 'message:send', { roomId, body: 'explode' });
      expect(failed).toMatchObject({ ok: false, error: { code: 'internal' } });
      const ok = await request(a, 'message:send', { roomId, body: 'fine' });
      expect(ok.message.seq).toBe(1);
      await waitFor(() => atB.length === 1);
      await new Promise((done) => setTimeout(done, 100));
      expect(atB.map((m) => m.body)).toEqual(['fine']);
    } finally {
      await db.query('DROP TRIGGER test_fail_insert ON messages');
      await db.end();
    }
  });

  it('validates replyTo: same room only', async () => {
    const first = await http.post(`/v1/rooms/${roomId}/messages`, { body: 'question' }, alice.jwt);
    const reply = await http.post(
      `/v1/rooms/${roomId}/messages`,
      { body: 'answer', replyTo: first.body.id },
      alice.jwt,
    );
    expect(reply.status).toBe(201);
    expect(reply.body.replyTo).toBe(first.body.id);
    const other = await http.post('/v1/rooms', { name: `other-${Date.now()}` }, alice.jwt);
    const cross = await http.post(
      `/v1/rooms/${other.body.id}/messages`,
      { body: 'x', replyTo: first.body.id },
      alice.jwt,
    );
    expect(cross.status).toBe(400);
    expect(cross.body.code).toBe('validation_failed');
  });

  it('answers each bad socket payload with its contract code', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    await request(a, 'room:join', { roomId });
    const cases: Array<[string, unknown, string]> = [
      ['message:send', { roomId, body: '' }, 'validation_failed'],
      ['message:send', { roomId }, 'validation_failed'],
      ['message:send', { roomId, body: 'x', extra: true }, 'validation_failed'],
      ['message:send', { roomId: 'not-a-uuid', body: 'x' }, 'validation_failed'],
      ['message:send', { roomId, body: 'x', data: [1, 2] }, 'validation_failed'],
      ['message:send', { roomId, body: 'x', clientMsgId: 'c'.repeat(65) }, 'validation_failed'],
      [
        'message:send',
        { roomId, body: 'x', data: JSON.parse('{"__proto__": {"polluted": true}}') },
        'validation_failed',
      ],
      ['message:send', { roomId, body: 'x'.repeat(16_385) }, 'payload_too_large'],
      [
        'message:send',
        { roomId, body: 'x', data: { blob: 'y'.repeat(70_000) } },
        'payload_too_large',
      ],
      ['message:send', { roomId: '00000000-0000-7000-8000-000000000000', body: 'x' }, 'not_found'],
      ['message:send', 'just a string', 'validation_failed'],
      ['room:join', { roomId: '00000000-0000-7000-8000-000000000000' }, 'not_found'],
      ['room:join', { roomId, sinceSeq: -1 }, 'validation_failed'],
      ['room:join', { roomId, sinceSeq: 'abc' }, 'validation_failed'],
      ['room:leave', {}, 'validation_failed'],
      ['presence:list', { roomId: 5 }, 'validation_failed'],
      ['auth:refresh', { token: 'garbage' }, 'unauthorized'],
    ];
    for (const [event, payload, code] of cases) {
      const ack = await request(a, event, payload);
      expect({ event, payload: JSON.stringify(payload).slice(0, 80), ack }).toMatchObject({
        event,
        ack: { ok: false, error: { code } },
      });
    }
    expect((await request(a, 'message:send', { roomId, body: 'still alive' })).ok).toBe(true);
    expect({}.constructor.prototype).not.toHaveProperty('polluted');
  });

  it('answers message:send like every other event: field details, no ack, odd argument lists', async () => {
    // message:send is bound outside Nest's pipeline (src/realtime/direct-events.ts); these are
    // the cases where that binding could drift from a @SubscribeMessage handler's answers.
    const a = await connectSocket(t.url, alice.jwt);
    await request(a, 'room:join', { roomId });
    const unknownField = await request(a, 'message:send', { roomId, body: 'x', extra: 1 });
    expect(unknownField).toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: [{ field: 'extra' }] },
    });
    const badRoomJoin = await request(a, 'room:join', { roomId, extra: 1 });
    expect(badRoomJoin.error.details).toEqual(unknownField.error.details);

    const withoutPayload = await (a as any).timeout(5000).emitWithAck('message:send');
    expect(withoutPayload).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    const twoPayloads = await (a as any)
      .timeout(5000)
      .emitWithAck('message:send', { roomId, body: 'x' }, { roomId, body: 'y' });
    expect(twoPayloads).toMatchObject({
      ok: false,
      error: { code: 'validation_failed', message: 'payload must be a JSON object' },
    });

    // Without an ack a failure arrives as an `error` event, and a valid send is still stored.
    const errors = collect(a, 'error');
    (a as any).emit('message:send', { roomId, body: '' });
    await waitFor(() => errors.length === 1, 5000, 'the error event');
    expect(errors[0]).toMatchObject({ code: 'validation_failed' });
    (a as any).emit('message:send', { roomId, body: 'no ack wanted' });
    await waitFor(
      async () =>
        (await http.get(`/v1/rooms/${roomId}/messages`, alice.jwt)).body.items.length === 1,
      5000,
      'the ack-less message to be stored',
    );
    expect(errors).toHaveLength(1);
    expect((await request(a, 'message:send', { roomId, body: 'still alive' })).ok).toBe(true);
  });

  it('refuses sends to an archived room with conflict', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    await request(a, 'room:join', { roomId });
    expect((await http.delete(`/v1/rooms/${roomId}`, alice.jwt)).status).toBe(200);
    const ack = await request(a, 'message:send', { roomId, body: 'late' });
    expect(ack).toMatchObject({ ok: false, error: { code: 'conflict' } });
  });

  it('counts sends in messages_sent_total and both latency metrics', async () => {
    const before = await http.get('/metrics');
    const count = (text: string) => Number(/^messages_sent_total (\d+)/m.exec(text)?.[1] ?? 0);
    const a = await connectSocket(t.url, alice.jwt);
    await request(a, 'room:join', { roomId });
    await request(a, 'message:send', { roomId, body: 'metric me' });
    const after = await http.get('/metrics');
    expect(count(after.body) - count(before.body)).toBe(1);
    expect(after.body).toMatch(/^message_send_latency\{quantile="0.99"\} [0-9.e-]+$/m);
    expect(after.body).toMatch(/^message_send_latency_seconds_count [1-9]/m);
    expect(after.body).toMatch(/^ws_connections [1-9]/m);
  });
});
