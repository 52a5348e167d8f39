import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { startEchoAgent, type EchoAgent } from '../../examples/echo-agent';
import type { MessageDto } from '../../src/contracts';
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

const ROOT = join(__dirname, '..', '..');
let counter = 0;
const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${(counter += 1)}`;
const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** The JWT the agent's socket will present on its next (re)connect. */
const tokenOf = (agent: EchoAgent) => (agent.socket.auth as { token: string }).token;

describe('examples/echo-agent.ts against the real hub', () => {
  let t: TestApp;
  let http: Http;
  let alice: TestAgent;
  let echoer: TestAgent;
  let room: { id: string; name: string };
  const running: EchoAgent[] = [];
  const logs: string[] = [];

  const start = async (options: { room?: string; refreshAt?: number } = {}) => {
    const agent = await startEchoAgent({
      url: t.url,
      apiToken: echoer.apiToken,
      rooms: [options.room ?? room.id],
      refreshAt: options.refreshAt,
      reconnectionDelay: 1500,
      log: (line) => logs.push(line),
    });
    running.push(agent);
    return agent;
  };

  /** Alice in the room, with everything she receives. */
  const aliceInRoom = async (): Promise<{ socket: ClientSocket; seen: MessageDto[] }> => {
    const socket = await connectSocket(t.url, alice.jwt);
    expect((await request(socket, 'room:join', { roomId: room.id })).ok).toBe(true);
    return { socket, seen: collect<MessageDto>(socket, 'message:new') };
  };

  const restSend = async (body: string): Promise<MessageDto> => {
    const sent = await http.post(`/v1/rooms/${room.id}/messages`, { body }, alice.jwt);
    expect(sent.status).toBe(201);
    return sent.body;
  };

  /** The echo agent's messages in the room, from the database's point of view. */
  const storedEchoes = async (): Promise<MessageDto[]> => {
    const page = await http.get(`/v1/rooms/${room.id}/messages?limit=200`, alice.jwt);
    return page.body.items.filter((m: MessageDto) => m.senderId === echoer.agent.id);
  };

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    alice = await createAgent(http, t.adminToken);
  });
  beforeEach(async () => {
    echoer = await createAgent(http, t.adminToken);
    const created = await http.post('/v1/rooms', { name: uniqueName('echo') }, alice.jwt);
    expect(created.status).toBe(201);
    room = created.body;
    logs.length = 0;
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((agent) => agent.stop()));
    closeAllSockets();
  });
  afterAll(() => t?.close());

  it('finds a room by name and answers "!echo" from another agent with a reply, ignoring the rest', async () => {
    const echo = await start({ room: room.name });
    expect(echo.roomIds).toEqual([room.id]);
    const { socket, seen } = await aliceInRoom();

    const ask = await request(socket, 'message:send', { roomId: room.id, body: '!echo hi' });
    await request(socket, 'message:send', { roomId: room.id, body: 'echo me not' });
    await waitFor(() => seen.length === 1, 5000, 'the echo');
    expect(seen[0]).toMatchObject({
      senderId: echoer.agent.id,
      body: 'echo: hi',
      replyTo: ask.message.id,
      clientMsgId: `echo:${ask.message.id}`,
    });
    await waitFor(() => echo.lastSeq(room.id) === 3, 5000, 'the agent to count its own reply');
    await pause(200);
    expect(seen).toHaveLength(1);
  });

  it('after a network drop, re-joins with sinceSeq and answers exactly what it missed, once each', async () => {
    const echo = await start();
    const { seen } = await aliceInRoom();
    await restSend('!echo before');
    await waitFor(() => seen.some((m) => m.body === 'echo: before'), 5000, 'the first echo');
    const seqBeforeDrop = echo.lastSeq(room.id);

    const dropped = new Promise((done) => echo.socket.once('disconnect', done));
    echo.socket.io.engine.close(); // the connection dies, as on a network failure
    await dropped;
    const missed = [];
    for (const body of ['!echo one', 'not for echo', '!echo two', '!echo three'])
      missed.push(await restSend(body));
    expect(echo.socket.connected).toBe(false); // all of them were sent while it was away

    const expected = ['echo: one', 'echo: two', 'echo: three'];
    await waitFor(
      () => expected.every((body) => seen.some((m) => m.body === body)),
      10_000,
      'the missed echoes',
    );
    await pause(300);
    const replies = seen.filter((m) => m.senderId === echoer.agent.id);
    expect(replies.map((m) => m.body)).toEqual(['echo: before', ...expected]);
    const echoed = missed.filter((m) => m.body.startsWith('!echo '));
    expect(replies.slice(1).map((m) => m.replyTo)).toEqual(echoed.map((m) => m.id));
    expect((await storedEchoes()).map((m) => m.body)).toEqual(['echo: before', ...expected]);
    const total = seqBeforeDrop + missed.length + expected.length;
    await waitFor(() => echo.lastSeq(room.id) === total, 5000, 'every seq to be accounted for');
    expect(logs.some((line) => line.startsWith('disconnected'))).toBe(true);
  });

  it('reconnects by itself with a fresh JWT after the server closes its socket', async () => {
    const echo = await start();
    const { seen } = await aliceInRoom();
    const tokenBefore = tokenOf(echo);

    const kicked = new Promise((done) => echo.socket.once('disconnect', done));
    // What the hub does when a JWT expires: server-side close, which socket.io does not retry.
    const { server } = t.app.get<EventsGateway, { server: AgentServer }>(EventsGateway);
    server.in(`agent:${echoer.agent.id}`).disconnectSockets(true);
    expect(await kicked).toBe('io server disconnect');
    await restSend('!echo while kicked');

    await waitFor(() => seen.some((m) => m.body === 'echo: while kicked'), 10_000, 'the echo');
    expect(tokenOf(echo)).not.toBe(tokenBefore);
    expect((await storedEchoes()).map((m) => m.body)).toEqual(['echo: while kicked']);
  });

  it('refreshes its JWT on the live socket before it expires', async () => {
    // 0.2% of the 15-minute JWT: a refresh every ~1.8 s.
    const echo = await start({ refreshAt: 0.002 });
    const tokenBefore = tokenOf(echo);
    await waitFor(() => logs.some((line) => line.startsWith('token refreshed')), 5000, 'a refresh');
    expect(tokenOf(echo)).not.toBe(tokenBefore);
    expect(echo.socket.connected).toBe(true);
    const { seen } = await aliceInRoom();
    await restSend('!echo still here');
    await waitFor(() => seen.some((m) => m.body === 'echo: still here'), 5000, 'the echo');
  });

  describe('as a script', () => {
    let child: ChildProcessWithoutNullStreams | undefined;
    afterEach(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    });

    it('creates its room by name, echoes, and exits 0 on SIGTERM', async () => {
      const roomName = uniqueName('script');
      child = spawn(process.execPath, ['-r', '@swc-node/register', 'examples/echo-agent.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          AGENTHUB_URL: t.url,
          AGENTHUB_API_TOKEN: echoer.apiToken,
          AGENTHUB_ROOM: roomName,
        },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: string | null }>((done) =>
        child!.once('exit', (code, signal) => done({ code, signal })),
      );
      await waitFor(() => output.includes('ready as'), 15_000, 'the script to start').catch(
        (error: Error) => {
          throw new Error(`${error.message}; its output:\n${output}`);
        },
      );

      const rooms = await http.get('/v1/rooms?limit=200', alice.jwt);
      room = rooms.body.items.find((r: { name: string }) => r.name === roomName);
      expect(room).toMatchObject({ createdBy: echoer.agent.id });
      const { socket, seen } = await aliceInRoom();
      const ask = await request(socket, 'message:send', { roomId: room.id, body: '!echo ping' });
      await waitFor(() => seen.length === 1, 5000, 'the echo');
      expect(seen[0]).toMatchObject({ body: 'echo: ping', replyTo: ask.message.id });

      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/SIGTERM: stopping[\s\S]*stopped/);
    });
  });
});
