/**
 * The benchmark's load generator: its own process (pinned to core 0 by the runner), driven over
 * IPC by bench/run.ts, answering every command with JSON. It holds the client sockets between
 * commands so a rate sweep does not reconnect for every step.
 *
 *   publishers:  socket.io-client sockets (typed with src/contracts) that send `message:send` at
 *                a target rate, open loop (they never wait for an ack before the next send);
 *   subscribers: LiteSocket connections that `room:join` and time every `message:new`;
 *   idle:        LiteSocket connections opened with bounded concurrency and held (memory test);
 *   http:        autocannon against the REST history endpoint.
 *
 * It can also run one command from the command line, for debugging:
 *   node dist/bench/load-generator.js '{"type":"connect","url":"http://127.0.0.1:3000",...}'
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/contracts/socket-events';
import { dumpTotals, newestDump } from './callgrind-summary';
import { Histogram } from './lib/histogram';
import { LiteSocket } from './lib/lite-socket';
import {
  contextSwitches,
  interProcessorInterrupts,
  procStat,
  ticksPerSecond,
  treeCpuSeconds,
} from './lib/proc';
import type {
  Command,
  ConnectCommand,
  ConnectResult,
  DisconnectResult,
  HttpCommand,
  HttpResult,
  OpenRoomCommand,
  OpenRoomResult,
  Reply,
  Request,
  RoomTarget,
  StepCommand,
  StepResult,
} from './lib/protocol';

type Publisher = Socket<ServerToClientEvents, ClientToServerEvents>;

const HANDSHAKE_TIMEOUT_MS = 10_000;
const JOIN_TIMEOUT_MS = 10_000;
/** After an aborted step, how long to wait for the server to answer what it still holds. */
const QUIESCE_MS = 15_000;
/** The body marker a subscriber looks for in a raw `message:new` frame. */
const MARK = Buffer.from('"body":"BENCH|');
const PIPE = 0x7c;
const DIGIT_0 = 0x30;

/** What the subscribers count for the step in progress. */
interface StepCounters {
  stepId: number;
  deliveries: number;
  /** Deliveries since the measured window opened (0 until then). */
  windowDeliveries: number;
  windowOpen: boolean;
  latency: Histogram;
  /** Latest measured send-to-deliver latency, µs: the early-abort signal. */
  lastLatencyUs: number;
}

function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Reads the unsigned integer at `index` up to the next '|'; returns [value, index after '|']. */
function readField(frame: Buffer, index: number): [number, number] {
  let value = 0;
  let i = index;
  while (i < frame.length && frame[i] !== PIPE) {
    value = value * 10 + (frame[i] - DIGIT_0);
    i += 1;
  }
  return [value, i + 1];
}

class RoomSession {
  private stepCounter = 0;
  private counters: StepCounters | undefined;
  private drops = 0;

  private constructor(
    private readonly target: RoomTarget,
    private readonly publishers: Publisher[],
    private readonly subscribers: LiteSocket[],
  ) {}

  static async open(
    command: OpenRoomCommand,
  ): Promise<{ session: RoomSession; result: OpenRoomResult }> {
    const started = performance.now();
    const { target } = command;
    const publishers: Publisher[] = [];
    const subscribers: LiteSocket[] = [];
    const session = new RoomSession(target, publishers, subscribers);
    try {
      for (let i = 0; i < command.publishers; i += 1)
        publishers.push(await connectPublisher(target));
      for (let i = 0; i < command.subscribers; i += 1) {
        subscribers.push(
          await LiteSocket.connect({
            url: target.url,
            token: target.subscriberToken,
            timeoutMs: HANDSHAKE_TIMEOUT_MS,
            onEvent: (frame) => session.onFrame(frame),
            onClose: () => {
              session.drops += 1;
            },
          }),
        );
      }
      // The first join may make the agent a member; the others then find it one already.
      await join(subscribers[0], target.roomId);
      for (let i = 1; i < subscribers.length; i += 10) {
        await Promise.all(subscribers.slice(i, i + 10).map((s) => join(s, target.roomId)));
      }
    } catch (error) {
      session.close();
      throw error;
    }
    return {
      session,
      result: {
        publishers: publishers.length,
        subscribers: subscribers.length,
        elapsedMs: Math.round(performance.now() - started),
      },
    };
  }

  /** The hot path: one call per delivered message per subscriber. */
  private onFrame(frame: Buffer): void {
    const counters = this.counters;
    if (!counters) return;
    const at = frame.indexOf(MARK, 2);
    if (at < 0) return;
    const [stepId, afterStep] = readField(frame, at + MARK.length);
    if (stepId !== counters.stepId) return;
    const [measured, afterFlag] = readField(frame, afterStep);
    counters.deliveries += 1;
    if (counters.windowOpen) counters.windowDeliveries += 1;
    if (measured === 1) {
      const [sentUs] = readField(frame, afterFlag);
      const latencyUs = nowUs() - sentUs;
      counters.latency.record(latencyUs);
      counters.lastLatencyUs = latencyUs;
    }
  }

  async step(command: StepCommand): Promise<StepResult> {
    const stepId = ++this.stepCounter;
    const counters: StepCounters = {
      stepId,
      deliveries: 0,
      windowDeliveries: 0,
      windowOpen: false,
      latency: new Histogram(),
      lastLatencyUs: 0,
    };
    this.counters = counters;
    const dropsBefore = this.drops;
    const ackLatency = new Histogram();
    const subscriberCount = this.subscribers.length;
    const padding = 'x'.repeat(Math.max(0, command.bodyBytes - 40));
    const roomId = this.target.roomId;
    let sent = 0;
    let sentMeasured = 0;
    let acked = 0;
    let ackErrors = 0;
    let firstAckError: string | undefined;
    let lastAckLatencyUs = 0;
    let aborted: string | undefined;

    const cpuBefore = process.cpuUsage();
    const wallStart = performance.now();
    const t0 = performance.now();
    const measureStart = t0 + command.warmupMs;
    const sendEnd = measureStart + command.durationMs;
    const maxBurst = Math.max(1, Math.ceil(command.rate / 10));
    const abortUs = command.abortLatencyMs * 1000;
    let cpuWindow: ({ at: number } & CpuSample) | undefined;
    /** Why callgrind's counters could not be read for this window (the step then fails). */
    let countingError: string | undefined;

    const sendOne = (measured: 0 | 1): void => {
      const publisher = this.publishers[sent % this.publishers.length];
      const sentUs = nowUs();
      sent += 1;
      if (measured) sentMeasured += 1;
      publisher.emit(
        'message:send',
        { roomId, body: `BENCH|${stepId}|${measured}|${sentUs}|${padding}` },
        (ack) => {
          const ackUs = nowUs() - sentUs;
          lastAckLatencyUs = ackUs;
          if (measured) ackLatency.record(ackUs);
          if (ack.ok) acked += 1;
          else {
            ackErrors += 1;
            firstAckError ??= `${ack.error.code}: ${ack.error.message}`;
          }
        },
      );
    };

    // Open loop: every millisecond, send whatever the schedule says is due by now.
    await new Promise<void>((finished) => {
      const tick = (): void => {
        const now = performance.now();
        if (now >= sendEnd || aborted) {
          finished();
          return;
        }
        const measured = now >= measureStart ? 1 : 0;
        if (measured && !cpuWindow) {
          if (command.cpu?.callgrindOutFile) {
            try {
              startCounting(command.cpu.serverPid);
            } catch (error) {
              countingError = error instanceof Error ? error.message : String(error);
            }
          }
          cpuWindow = { at: now, ...this.sampleCpu(command) };
          counters.windowOpen = true;
        }
        const due = Math.min(maxBurst, Math.floor(((now - t0) * command.rate) / 1000) - sent);
        for (let i = 0; i < due; i += 1) sendOne(measured);
        const outstanding = sent - acked - ackErrors;
        // Latency aborts only in the measured window: a hiccup during warm-up (a pool filling
        // up, a major GC) must not fail the step on its own.
        if (measured && lastAckLatencyUs > abortUs)
          aborted = `ack latency over ${command.abortLatencyMs} ms`;
        else if (measured && counters.lastLatencyUs > abortUs)
          aborted = `delivery latency over ${command.abortLatencyMs} ms`;
        else if (command.abortOnBacklog && outstanding > command.rate * 2)
          aborted = `more than 2 s of sends unacknowledged`;
        else if (this.drops > dropsBefore) aborted = 'a subscriber was disconnected';
        setTimeout(tick, 1);
      };
      tick();
    });
    const sendStopped = performance.now();

    // Drain: every ack back and every subscriber served, or the deadline.
    const settled = (): boolean =>
      acked + ackErrors === sent && counters.deliveries >= acked * subscriberCount;
    const drainDeadline = sendStopped + command.drainMs;
    while (!settled() && performance.now() < drainDeadline) await sleep(2);
    const windowEnd = performance.now();
    const cpuEnd = this.sampleCpu(command);
    let instructions: ReturnType<typeof stopCounting> | undefined;
    if (command.cpu?.callgrindOutFile && cpuWindow && !countingError) {
      try {
        instructions = stopCounting(command.cpu.serverPid, command.cpu.callgrindOutFile);
      } catch (error) {
        countingError = error instanceof Error ? error.message : String(error);
      }
    }
    const deliveries = counters.deliveries;
    const windowDeliveries = counters.windowDeliveries;
    const unacked = sent - acked - ackErrors;
    const expectedDeliveries = acked * subscriberCount;
    const lost = Math.max(0, expectedDeliveries - deliveries);

    // A saturated server still holds a backlog: let it finish before the next command.
    if (!settled()) {
      const quiesceDeadline = performance.now() + QUIESCE_MS;
      while (acked + ackErrors < sent && performance.now() < quiesceDeadline) await sleep(10);
    }
    this.counters = undefined;

    const cpuUsed = process.cpuUsage(cpuBefore);
    const generatorCpu =
      (cpuUsed.user + cpuUsed.system) / 1000 / Math.max(1, sendStopped - wallStart);
    const measuredSeconds = cpuWindow ? (sendStopped - cpuWindow.at) / 1000 : 0;
    const latency = counters.latency.summary();
    const achievedRate = measuredSeconds > 0 ? sentMeasured / measuredSeconds : 0;
    const problems: string[] = [];
    if (aborted) problems.push(`aborted: ${aborted}`);
    if (countingError) problems.push(`callgrind: ${countingError}`);
    if (ackErrors > 0) problems.push(`${ackErrors} send errors (${firstAckError})`);
    if (unacked > 0) problems.push(`${unacked} sends unacknowledged`);
    if (lost > 0) problems.push(`${lost} deliveries lost`);
    if (this.drops > dropsBefore) problems.push(`${this.drops - dropsBefore} subscribers dropped`);
    if (latency.count === 0) problems.push('nothing measured');
    else if (latency.p99Ms >= 100) problems.push(`p99 ${latency.p99Ms} ms >= 100 ms`);
    if (!aborted && achievedRate < command.rate * 0.95)
      problems.push(`generator reached only ${Math.round(achievedRate)} msg/s`);

    const result: StepResult = {
      rate: command.rate,
      achievedRate: Math.round(achievedRate),
      subscribers: subscriberCount,
      sent,
      acked,
      ackErrors,
      firstAckError,
      unacked,
      expectedDeliveries,
      deliveries,
      lost,
      subscriberDrops: this.drops - dropsBefore,
      latency,
      ackLatency: ackLatency.summary(),
      aborted,
      pass: problems.length === 0,
      verdict: problems.length === 0 ? 'pass' : problems.join('; '),
      generatorCpu: Math.round(generatorCpu * 100) / 100,
    };
    if (command.cpu && cpuWindow) {
      const windowMs = windowEnd - cpuWindow.at;
      const serverCpuMs = (cpuEnd.server - cpuWindow.server) * 1000;
      const serverUserMs = (cpuEnd.serverUser - cpuWindow.serverUser) * 1000;
      result.cpu = {
        windowMs: Math.round(windowMs),
        deliveries: windowDeliveries,
        serverCpuMs: Math.round(serverCpuMs),
        serverSystemMs: Math.round(serverCpuMs - serverUserMs),
        serverMainThreadMs:
          cpuEnd.serverMain !== undefined && cpuWindow.serverMain !== undefined
            ? Math.round((cpuEnd.serverMain - cpuWindow.serverMain) * 1000)
            : undefined,
        serverUsPerDelivery: round2((serverCpuMs * 1000) / Math.max(1, windowDeliveries)),
      };
      if (cpuEnd.db !== undefined && cpuWindow.db !== undefined) {
        const dbCpuMs = (cpuEnd.db - cpuWindow.db) * 1000;
        result.cpu.dbCpuMs = Math.round(dbCpuMs);
        result.cpu.dbUsPerDelivery = round2((dbCpuMs * 1000) / Math.max(1, windowDeliveries));
      }
      if (instructions !== undefined) {
        result.cpu.instructionsPerDelivery = Math.round(
          instructions.all / Math.max(1, windowDeliveries),
        );
        result.cpu.callgrindDump = instructions.dump;
      }
      const messages = Math.max(1, windowDeliveries / Math.max(1, subscriberCount));
      if (cpuEnd.sleeps !== undefined && cpuWindow.sleeps !== undefined)
        result.cpu.serverSleepsPerMessage = round2((cpuEnd.sleeps - cpuWindow.sleeps) / messages);
      if (cpuEnd.ipis !== undefined && cpuWindow.ipis !== undefined)
        result.cpu.ipisPerMessage = round2((cpuEnd.ipis - cpuWindow.ipis) / messages);
    }
    return result;
  }

  private sampleCpu(command: StepCommand): CpuSample {
    if (!command.cpu) return { server: 0, serverUser: 0 };
    const server = procStat(command.cpu.serverPid);
    const main = procStat(command.cpu.serverPid, command.cpu.serverPid);
    return {
      server: server ? server.ticks / ticksPerSecond() : 0,
      serverUser: server ? server.userTicks / ticksPerSecond() : 0,
      db: command.cpu.dbRootPid ? treeCpuSeconds(command.cpu.dbRootPid) : undefined,
      serverMain: main ? main.ticks / ticksPerSecond() : undefined,
      sleeps: contextSwitches(command.cpu.serverPid)?.voluntary,
      ipis: interProcessorInterrupts(),
    };
  }

  close(): void {
    this.counters = undefined;
    for (const publisher of this.publishers) publisher.disconnect();
    for (const subscriber of this.subscribers) subscriber.close();
  }
}

interface CpuSample {
  server: number;
  serverUser: number;
  /** The server's main thread alone (the event loop; the rest is V8's compiler and GC helpers). */
  serverMain?: number;
  db?: number;
  /** Voluntary context switches of the server's threads. */
  sleeps?: number;
  /** The machine's inter-processor interrupts since boot. */
  ipis?: number;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function connectPublisher(target: RoomTarget): Promise<Publisher> {
  const socket: Publisher = io(target.url, {
    auth: { token: target.publisherToken },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: HANDSHAKE_TIMEOUT_MS,
  });
  return new Promise<Publisher>((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.disconnect();
      reject(new Error(`publisher connect_error: ${error.message}`));
    });
  });
}

async function join(socket: LiteSocket, roomId: string): Promise<void> {
  const ack = await socket.emitWithAck('room:join', { roomId }, JOIN_TIMEOUT_MS);
  if (!ack.ok) throw new Error(`room:join failed: ${ack.error.code} ${ack.error.message}`);
}

/** Opens `count` idle authenticated sockets, at most `concurrency` handshakes in flight. */
async function connectMany(command: ConnectCommand, held: LiteSocket[]): Promise<ConnectResult> {
  const started = performance.now();
  const deadline = started + command.timeoutMs;
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  const decileSize = Math.max(1, Math.floor(command.count / 10));
  const decileEnds: number[] = [];
  const worker = async (): Promise<void> => {
    while (next < command.count && performance.now() < deadline) {
      next += 1;
      try {
        held.push(
          await LiteSocket.connect({
            url: command.url,
            token: command.token,
            timeoutMs: HANDSHAKE_TIMEOUT_MS,
          }),
        );
        opened += 1;
        if (opened % decileSize === 0) decileEnds.push(performance.now());
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return {
    requested: command.count,
    opened,
    failed: failed + (command.count - next),
    firstError,
    elapsedMs: Math.round(elapsedMs),
    perSecond: Math.round((opened / elapsedMs) * 1000),
    perSecondByDecile: decileEnds.map((end, i) =>
      Math.round((decileSize / Math.max(1, end - (i === 0 ? started : decileEnds[i - 1]))) * 1000),
    ),
  };
}

async function runHttp(command: HttpCommand): Promise<HttpResult> {
  const options = {
    url: command.url,
    connections: command.connections,
    headers: { authorization: `Bearer ${command.token}` },
  };
  if (command.warmupSeconds > 0) await autocannon({ ...options, duration: command.warmupSeconds });
  const result = await autocannon({ ...options, duration: command.durationSeconds });
  return {
    connections: command.connections,
    durationSeconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.total / result.duration),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    bytesPerResponse: Math.round(result.throughput.total / Math.max(1, result.requests.total)),
  };
}

class LoadGenerator {
  private room: RoomSession | undefined;
  private readonly idle: LiteSocket[] = [];

  async handle(command: Command): Promise<unknown> {
    switch (command.type) {
      case 'open-room': {
        this.room?.close();
        const { session, result } = await RoomSession.open(command);
        this.room = session;
        return result;
      }
      case 'step':
        if (!this.room) throw new Error('no room is open');
        return this.room.step(command);
      case 'close-room':
        this.room?.close();
        this.room = undefined;
        await sleep(200);
        return {};
      case 'connect':
        return connectMany(command, this.idle);
      case 'disconnect': {
        const closed: DisconnectResult = { closed: this.idle.length };
        for (const socket of this.idle.splice(0)) socket.close();
        return closed;
      }
      case 'http':
        return runHttp(command);
      case 'exit':
        this.room?.close();
        for (const socket of this.idle.splice(0)) socket.close();
        setTimeout(() => process.exit(0), 50);
        return {};
    }
  }
}

function main(): void {
  const generator = new LoadGenerator();
  const inline = process.argv[2];
  if (inline) {
    generator
      .handle(JSON.parse(inline) as Command)
      .then((result) => {
        console.log(JSON.stringify(result, null, 2));
        process.exit(0);
      })
      .catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
    return;
  }
  if (!process.send) {
    console.error('load-generator: run me from bench/run.ts (IPC) or pass one command as JSON');
    process.exit(2);
  }
  const reply = (message: Reply): void => {
    process.send?.(message);
  };
  process.on('message', (request: Request) => {
    generator.handle(request.command).then(
      (result) => reply({ id: request.id, ok: true, result }),
      (error: unknown) =>
        reply({
          id: request.id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  });
  // The runner going away (crash, Ctrl-C) must not leave us holding 10,000 sockets.
  process.on('disconnect', () => process.exit(0));
}

main();

/** Turns callgrind's instrumentation on in a server under valgrind and zeroes its counters. */
function startCounting(pid: number): void {
  callgrindControl(pid, '--instr=on');
  callgrindControl(pid, '--zero');
}

/**
 * Dumps the counters of a server under callgrind (one file per thread, `<outFile>.<n>-<thread>`:
 * the server runs with --separate-threads=yes), turns its instrumentation off again (the idle
 * server runs at valgrind's uninstrumented speed) and answers the instructions counted since
 * startCounting, with the dump's prefix.
 */
function stopCounting(pid: number, outFile: string): { all: number; dump: string } {
  const before = newestDump(outFile);
  callgrindControl(pid, '--dump');
  callgrindControl(pid, '--instr=off');
  // callgrind_control returns once vgdb has passed the command on; wait for the files anyway.
  const deadline = Date.now() + 60_000;
  let dump = newestDump(outFile);
  while (dump === before && Date.now() < deadline) {
    execFileSync('sleep', ['0.2']);
    dump = newestDump(outFile);
  }
  if (dump === undefined || dump === before)
    throw new Error(`no new callgrind dump ${outFile}.<n>-<thread>`);
  const { all } = dumpTotals(dump);
  // callgrind_control answers "OK" whenever it finds the process, even if vgdb failed.
  if (all === 0) throw new Error(`${dump}: nothing counted (instrumentation not on?)`);
  return { all, dump };
}

function callgrindControl(pid: number, command: string): void {
  const output = execFileSync('callgrind_control', [command, String(pid)], {
    // vgdb names a process's control pipes after $USER and $HOST, and the servers run with
    // HOST=127.0.0.1, their address (bench/run.ts).
    env: { ...process.env, HOST: '127.0.0.1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  // It exits 0 when it finds no such process, too.
  if (!/\bOK\b/.test(output))
    throw new Error(`callgrind_control ${command} ${pid}: ${output.trim() || 'no answer'}`);
}
