/** Messages between the runner (bench/run.ts) and the load generator (bench/load-generator.ts). */
import type { Percentiles } from './histogram';

/**
 * `raw-rt`: the raw socket.io server waiting for one round trip to an echo process per message;
 * `agenthub-b`: a second AgentHub with other node flags or another build (bench/run.ts --variant).
 */
export type ServerKind = 'agenthub' | 'agenthub-b' | 'baseline' | 'raw' | 'raw-rt';

/** A room on one server, with the access tokens of its publisher and subscriber agents. */
export interface RoomTarget {
  kind: ServerKind;
  url: string;
  roomId: string;
  /** JWT of the agent that sends (a member of the room that does not subscribe to it). */
  publisherToken: string;
  /** JWT of the agent whose sockets subscribe (room:join); one token for every subscriber. */
  subscriberToken: string;
}

export interface OpenRoomCommand {
  type: 'open-room';
  target: RoomTarget;
  publishers: number;
  subscribers: number;
}

export interface StepCommand {
  type: 'step';
  /** Target send rate over all publishers, messages per second. */
  rate: number;
  warmupMs: number;
  durationMs: number;
  /** How long to wait after the last send for acks and deliveries before counting losses. */
  drainMs: number;
  bodyBytes: number;
  /** Stop sending early when an ack or a delivery takes longer than this (the server is saturated). */
  abortLatencyMs: number;
  /** Stop early when more than 2 s of sends are unacknowledged (not under callgrind). */
  abortOnBacklog: boolean;
  /** When set, CPU time of these processes is sampled over the measured window. */
  cpu?: {
    serverPid: number;
    dbRootPid?: number;
    /**
     * The server runs under valgrind's callgrind (bench/run.ts --callgrind): its instructions
     * are counted over the window (instrumentation on, counters zeroed, dumped to
     * `<outFile>.<n>-<thread>`, instrumentation off again).
     */
    callgrindOutFile?: string;
  };
}

export interface CloseRoomCommand {
  type: 'close-room';
}

export interface ConnectCommand {
  type: 'connect';
  url: string;
  token: string;
  count: number;
  concurrency: number;
  timeoutMs: number;
}

export interface DisconnectCommand {
  type: 'disconnect';
}

export interface HttpCommand {
  type: 'http';
  url: string;
  token: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

export interface ExitCommand {
  type: 'exit';
}

export type Command =
  | OpenRoomCommand
  | StepCommand
  | CloseRoomCommand
  | ConnectCommand
  | DisconnectCommand
  | HttpCommand
  | ExitCommand;

export interface OpenRoomResult {
  publishers: number;
  subscribers: number;
  elapsedMs: number;
}

export interface StepResult {
  rate: number;
  /** Messages actually sent per second in the measured window. */
  achievedRate: number;
  subscribers: number;
  sent: number;
  acked: number;
  ackErrors: number;
  firstAckError?: string;
  /** Sends without an ack when the step ended. */
  unacked: number;
  expectedDeliveries: number;
  deliveries: number;
  lost: number;
  /** Subscriber sockets that closed during the step. */
  subscriberDrops: number;
  /** Send-to-deliver latency of the measured (post-warm-up) messages, over every subscriber. */
  latency: Percentiles;
  /** Send-to-ack latency of the measured messages. */
  ackLatency: Percentiles;
  aborted?: string;
  pass: boolean;
  /** Why the step failed, in words. */
  verdict: string;
  /** Share of one core the load generator used during the step (1 = a whole core). */
  generatorCpu: number;
  cpu?: {
    windowMs: number;
    deliveries: number;
    serverCpuMs: number;
    /** Kernel share of serverCpuMs (socket writes on loopback are charged here). */
    serverSystemMs: number;
    /**
     * The main thread's share of serverCpuMs (the event loop); the rest is V8's compiler and GC
     * threads and libuv's pool (absent in older results).
     */
    serverMainThreadMs?: number;
    serverUsPerDelivery: number;
    dbCpuMs?: number;
    dbUsPerDelivery?: number;
    /**
     * Times the server's threads went to sleep, per message sent in the window: each one is a
     * wake-up some process paid for (absent in older results).
     */
    serverSleepsPerMessage?: number;
    /** Inter-processor interrupts of the whole machine per message sent (see proc.ts). */
    ipisPerMessage?: number;
    /** Under callgrind: user-space instructions the server executed per delivery (all threads). */
    instructionsPerDelivery?: number;
    /** The window's dump: files `<callgrindDump>-<thread>` (bench/callgrind-summary.ts reads them). */
    callgrindDump?: string;
    /**
     * Instructions per delivery without garbage collection and compilation (bench/run.ts sorts
     * the dump's functions by kind): the server's own work per message, which a window that
     * happens to hold a major GC or a recompilation does not inflate.
     */
    mutatorInstructionsPerDelivery?: number;
    /** Instructions per delivery by kind of function (callgrind-summary.ts's kinds). */
    instructionsByKind?: Record<string, number>;
  };
}

export interface ConnectResult {
  requested: number;
  opened: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  perSecond: number;
  /** Connections per second within each tenth of the run (does admission slow down as N grows?). */
  perSecondByDecile: number[];
}

export interface DisconnectResult {
  closed: number;
}

export interface HttpResult {
  connections: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  bytesPerResponse: number;
}

export interface ResultOf {
  'open-room': OpenRoomResult;
  step: StepResult;
  'close-room': Record<string, never>;
  connect: ConnectResult;
  disconnect: DisconnectResult;
  http: HttpResult;
  exit: Record<string, never>;
}

export interface Request {
  id: number;
  command: Command;
}

export type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
