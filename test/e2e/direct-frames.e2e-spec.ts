import { EventsGateway } from '../../src/realtime/events.gateway';
import type { AgentServer } from '../../src/realtime/socket-types';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import {
  ClientSocket,
  closeAllSockets,
  collect,
  connectSocket,
  request,
  waitFor,
} from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/** Fan-out written straight to the TCP socket (src/realtime/direct-frames.ts), end to end. */
describe('direct frames', () => {
  let t: TestApp;
  let http: Http;
  let alice: TestAgent;
  let bob: TestAgent;
  let roomId: string;

  const ioServer = (): AgentServer =>
    t.app.get<EventsGateway, { server: AgentServer }>(EventsGateway).server;

  /** Counts the packets engine.io builds for each server-side connection of `agentId`. */
  const enginePackets = (agentId: string): Array<{ type: string; data?: unknown }> => {
    const seen: Array<{ type: string; data?: unknown }> = [];
    for (const socket of ioServer().sockets.sockets.values())
      if (socket.data.principal.agentId === agentId)
        socket.conn.on('packetCreate', (packet: { type: string; data?: unknown }) =>
          seen.push(packet),
        );
    return seen;
  };

  const messagesOf = (packets: Array<{ data?: unknown }>): unknown[] =>
    packets.filter((packet) => String(packet.data).includes('"message:new"'));

  const join = async (...sockets: ClientSocket[]): Promise<void> => {
    for (const socket of sockets)
      expect((await request(socket, 'room:join', { roomId })).ok).toBe(true);
  };

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
        { name: `df-${Date.now()}-${Math.floor(Math.random() * 1e6)}` },
        alice.jwt,
      )
    ).body.id;
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  it('delivers broadcasts and acks over WebSocket without engine.io building a packet', async () => {
    const sender = await connectSocket(t.url, alice.jwt);
    const subscriber = await connectSocket(t.url, bob.jwt);
    await join(sender, subscriber);
    const packets = enginePackets(bob.agent.id);
    const senderPackets = enginePackets(alice.agent.id);
    const received = collect(subscriber, 'message:new');

    const ack = await request(sender, 'message:send', { roomId, body: 'héllo ✓', data: { n: 1 } });
    await waitFor(() => received.length === 1, 5000, 'message:new');

    expect(received[0]).toEqual(ack.message);
    expect(messagesOf(packets)).toHaveLength(0);
    expect(senderPackets.filter((packet) => packet.type === 'message')).toHaveLength(0);
    expect(ack).toMatchObject({ ok: true, message: { body: 'héllo ✓' } });
  });

  it('delivers the same frames to a subscriber on long polling, through engine.io', async () => {
    const sender = await connectSocket(t.url, alice.jwt);
    const polling = await connectSocket(t.url, bob.jwt, { transports: ['polling'] });
    await join(sender, polling);
    const packets = enginePackets(bob.agent.id);
    const received = collect(polling, 'message:new');

    const acks = [];
    for (let i = 0; i < 5; i += 1)
      acks.push(await request(sender, 'message:send', { roomId, body: `p${i}` }));
    await waitFor(() => received.length === 5, 5000, 'five message:new over polling');

    expect(received).toEqual(acks.map((ack) => ack.message));
    expect(messagesOf(packets)).toHaveLength(5);
  });

  it('keeps order across an upgrade from long polling, and writes directly once upgraded', async () => {
    const sender = await connectSocket(t.url, alice.jwt);
    const upgrading = await connectSocket(t.url, bob.jwt, { transports: ['polling', 'websocket'] });
    await join(sender, upgrading);
    const packets = enginePackets(bob.agent.id);
    const received = collect<{ seq: number }>(upgrading, 'message:new');
    const engine = upgrading.io.engine;
    const upgraded =
      engine.transport.name === 'websocket'
        ? Promise.resolve()
        : new Promise<void>((resolve) => engine.once('upgrade', () => resolve()));

    // A burst while the transport changes under the subscriber (or has just changed), then more
    // once it is on WebSocket.
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(sender, 'message:send', { roomId, body: `u${i}` }),
      ),
    );
    await upgraded;
    await waitFor(() => received.length === burst.length, 5000, 'the burst');
    const engineBuilt = messagesOf(packets).length;
    const after = [];
    for (let i = 0; i < 5; i += 1)
      after.push(await request(sender, 'message:send', { roomId, body: `w${i}` }));
    const acks = [...burst, ...after].sort((a, b) => a.message.seq - b.message.seq);
    await waitFor(() => received.length === acks.length, 5000, 'every message:new');

    expect(received.map((message) => message.seq)).toEqual(acks.map((ack) => ack.message.seq));
    expect(messagesOf(packets)).toHaveLength(engineBuilt);
  });

  it('keeps every frame whole and in order while the subscriber also gets its own acks', async () => {
    const sender = await connectSocket(t.url, alice.jwt);
    const subscriber = await connectSocket(t.url, bob.jwt);
    await join(sender, subscriber);
    const received = collect<{ seq: number; senderId: string }>(subscriber, 'message:new');
    const large = 'x'.repeat(16_000); // a 16-bit extended length in the frame header

    // Both agents send at once: bob's acks go through engine.io while alice's messages reach him
    // written directly, so both paths interleave on his connection.
    const [fromAlice, fromBob] = await Promise.all([
      Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          request(sender, 'message:send', { roomId, body: i % 10 === 0 ? large : `a${i}` }),
        ),
      ),
      Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          request(subscriber, 'message:send', { roomId, body: `b${i}` }),
        ),
      ),
    ]);
    await waitFor(() => received.length === 60, 10_000, "alice's 60 messages at bob");

    expect(fromAlice.every((ack) => ack.ok) && fromBob.every((ack) => ack.ok)).toBe(true);
    const seqs = received.map((message) => message.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(received.every((message) => message.senderId === alice.agent.id)).toBe(true);
    expect(new Set(seqs)).toEqual(new Set(fromAlice.map((ack) => ack.message.seq)));
    expect(subscriber.connected).toBe(true);
  });
});
