import { Client } from 'pg';
import { MessageWriter } from '../../src/messages/message-writer';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { ClientSocket, closeAllSockets, connectSocket, request } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

describe('group commit of concurrent sends', () => {
  let t: TestApp;
  let http: Http;
  let writer: MessageWriter;
  let members: TestAgent[];
  let outsider: TestAgent;
  let roomId: string;
  let sockets: ClientSocket[];

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    writer = t.app.get(MessageWriter);
    members = [
      await createAgent(http, t.adminToken),
      await createAgent(http, t.adminToken),
      await createAgent(http, t.adminToken),
    ];
    outsider = await createAgent(http, t.adminToken);
  });
  beforeEach(async () => {
    roomId = (
      await http.post(
        '/v1/rooms',
        { name: `batch-${Date.now()}-${Math.floor(Math.random() * 1e6)}` },
        members[0].jwt,
      )
    ).body.id;
    sockets = [];
    for (const member of members) {
      const socket = await connectSocket(t.url, member.jwt);
      expect((await request(socket, 'room:join', { roomId })).ok).toBe(true);
      sockets.push(socket);
    }
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  const seqsOf = (acks: any[]) =>
    acks
      .filter((a) => a.ok)
      .map((a) => a.message.seq)
      .sort((x: number, y: number) => x - y);

  it('stores concurrent sends in fewer transactions than messages, seq still gapless', async () => {
    const before = { ...writer.stats };
    const acks = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        request(sockets[i % 3], 'message:send', { roomId, body: `b${i}` }),
      ),
    );
    expect(acks.every((a) => a.ok)).toBe(true);
    expect(seqsOf(acks)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(new Set(acks.map((a) => a.message.id)).size).toBe(120);
    expect(acks.every((a, i) => a.message.body === `b${i}`)).toBe(true);
    const batches = writer.stats.batches - before.batches;
    expect(writer.stats.messages - before.messages).toBe(120);
    expect(batches).toBeLessThan(120);
    expect(writer.stats.largestBatch).toBeGreaterThan(1);
  });

  it('stores every column of a batch as sent, whatever characters an array literal escapes', async () => {
    // A batch goes as one array literal per column: quotes, backslashes, braces, commas, blanks
    // and the word NULL must come back as they were sent, in the ack, the live copy and history.
    const texts = [
      'say "hi"',
      'back\\slash \\" and \\\\',
      '{a,b}',
      'NULL',
      ' padded, with comma ',
      'line\nbreak\ttab',
      'ünïcödé 🚀 字',
      '"',
      '\\',
      '}',
    ];
    const sends = texts.map((text, i) => ({
      roomId,
      body: text,
      data: { text, nested: { list: [text, null, 1.5] }, [text]: i },
      clientMsgId: `${text.slice(0, 40)}#${i}`,
    }));
    const before = { ...writer.stats };
    const live = new Promise<any[]>((resolve) => {
      const seen: any[] = [];
      sockets[2].on('message:new', (message: any) => {
        seen.push(message);
        if (seen.length === texts.length) resolve(seen);
      });
    });
    const acks = await Promise.all(
      sends.map((payload, i) => request(sockets[i % 2], 'message:send', payload)),
    );
    expect(writer.stats.batches - before.batches).toBeLessThan(texts.length);
    // A batch that failed is retried message by message, which would hide a bad literal.
    expect(writer.stats.retriedOneByOne).toBe(before.retriedOneByOne);
    expect(acks.every((a) => a.ok)).toBe(true);
    const history = await http.get(`/v1/rooms/${roomId}/messages`, members[0].jwt);
    const byKey = (messages: any[]) =>
      new Map(messages.map((m) => [m.clientMsgId, { body: m.body, data: m.data }]));
    const expected = new Map(sends.map((s) => [s.clientMsgId, { body: s.body, data: s.data }]));
    expect(byKey(acks.map((a) => a.message))).toEqual(expected);
    expect(byKey(history.body.items)).toEqual(expected);
    expect(byKey(await live)).toEqual(expected);
  });

  it('acks the failing message of a batch with an error and the others with their messages', async () => {
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    await db.query(`CREATE OR REPLACE FUNCTION test_fail_body() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.body = 'explode' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
    await db.query(
      'CREATE TRIGGER test_fail_body BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_fail_body()',
    );
    try {
      const retriedBefore = writer.stats.retriedOneByOne;
      const bodies = Array.from({ length: 30 }, (_, i) => (i === 11 ? 'explode' : `ok${i}`));
      const acks = await Promise.all(
        bodies.map((body, i) => request(sockets[i % 3], 'message:send', { roomId, body })),
      );
      expect(acks[11]).toMatchObject({ ok: false, error: { code: 'internal' } });
      expect(acks.filter((a) => a.ok)).toHaveLength(29);
      expect(seqsOf(acks)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
      expect(writer.stats.retriedOneByOne).toBeGreaterThan(retriedBefore);
      const stored = await db.query(
        'SELECT count(*)::int AS n, max(seq)::int AS top FROM messages WHERE room_id = $1',
        [roomId],
      );
      expect(stored.rows[0]).toEqual({ n: 29, top: 29 });
    } finally {
      await db.query('DROP TRIGGER test_fail_body ON messages');
      await db.end();
    }
  });

  it('refuses an outsider inside a batch without failing the members’ sends', async () => {
    const stranger = await connectSocket(t.url, outsider.jwt);
    const sends = [
      ...Array.from({ length: 10 }, (_, i) =>
        request(sockets[i % 3], 'message:send', { roomId, body: `m${i}` }),
      ),
      request(stranger, 'message:send', { roomId, body: 'let me in' }),
    ];
    const acks = await Promise.all(sends);
    expect(acks[10]).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(seqsOf(acks)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });

  it('returns one message for duplicate clientMsgIds inside one batch', async () => {
    const acks = await Promise.all(
      Array.from({ length: 6 }, () =>
        request(sockets[0], 'message:send', { roomId, body: 'once', clientMsgId: 'same-key' }),
      ),
    );
    expect(acks.every((a) => a.ok)).toBe(true);
    expect(new Set(acks.map((a) => a.message.id)).size).toBe(1);
    const history = await http.get(`/v1/rooms/${roomId}/messages`, members[0].jwt);
    expect(history.body.items).toHaveLength(1);
  });

  it('decides each message of a batch over several rooms on its own', async () => {
    const newRoom = async (prefix: string) =>
      (await http.post('/v1/rooms', { name: `${prefix}-${Date.now()}` }, members[0].jwt)).body
        .id as string;
    const otherRoom = await newRoom('other');
    const archivedRoom = await newRoom('archived');
    expect((await http.delete(`/v1/rooms/${archivedRoom}`, members[0].jwt)).status).toBe(200);
    const first = await request(sockets[0], 'message:send', {
      roomId,
      body: 'stored',
      clientMsgId: 'k-stored',
    });
    const send = (payload: Record<string, unknown>) => request(sockets[0], 'message:send', payload);

    const acks = await Promise.all([
      send({ roomId, body: 'a1' }),
      send({ roomId: otherRoom, body: 'b1' }),
      send({ roomId: archivedRoom, body: 'c1' }),
      send({ roomId, body: 'stored', clientMsgId: 'k-stored' }),
      send({ roomId, body: 'reply', replyTo: first.message.id }),
      send({ roomId: otherRoom, body: 'reply elsewhere', replyTo: first.message.id }),
      send({ roomId, body: 'n', clientMsgId: 'k-new' }),
      send({ roomId, body: 'n', clientMsgId: 'k-new' }),
      send({ roomId: '00000000-0000-7000-8000-000000000000', body: 'nowhere' }),
    ]);

    expect(acks.map((a) => (a.ok ? 'ok' : a.error.code))).toEqual([
      'ok',
      'ok',
      'conflict',
      'ok',
      'ok',
      'validation_failed',
      'ok',
      'ok',
      'not_found',
    ]);
    expect(acks[3].message).toEqual(first.message);
    expect(acks[7].message).toEqual(acks[6].message);
    expect(acks[4].message.replyTo).toBe(first.message.id);
    expect(acks[1].message).toMatchObject({ roomId: otherRoom, seq: 1 });
    expect([acks[0], acks[4], acks[6]].map((a) => a.message.seq).sort()).toEqual([2, 3, 4]);
    const history = await http.get(`/v1/rooms/${roomId}/messages`, members[0].jwt);
    expect(history.body.items.map((m: { body: string }) => m.body).sort()).toEqual(
      ['a1', 'n', 'reply', 'stored'].sort(),
    );
  });
});
