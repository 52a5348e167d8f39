/**
 * `npm run bench`: AgentHub against a hand-written socket.io + pg baseline, in one run (issue 6).
 *
 *   npx ts-node --transpile-only bench/run.ts --quick     # < 3 minutes, 1 round, 2,000 connections
 *   npx ts-node --transpile-only bench/run.ts             # full: 2 rounds, 10,000 connections
 *
 * Build the app first (`npm run build`): AgentHub runs from dist/src/main.js. Options:
 *   --quick               quick mode (see QUICK below)
 *   --force               run even when the machine is busy; the results are flagged
 *   --wait-idle=SECONDS   wait up to this long for an idle machine before refusing (default 0)
 *   --rounds=N            A/B rounds (full: 2, quick: 1)
 *   --connections=N       idle connections for the memory test (full: 10000, quick: 2000)
 *   --subscribers=1,10,100  subscribers per room for the rate sweeps
 *   --phases=conn,rest,cpu,rate   run only these phases
 *   --cpu-rates=N,M       messages/s of the fixed-rate CPU phase, 10 subscribers (full: 200,2000;
 *                         quick: 200). The baseline runs at the first rate only: the later ones
 *                         are above what it sustains, and the CPU target is against raw socket.io
 *   --cpu-warmup=MS, --cpu-duration=MS  that phase's warm-up (excluded) and measured window
 *   --cpu-burst=MS        once per server, before its first CPU step: MS at 500 msg/s, not
 *                         measured, so V8 has optimised the hot path (full 5000, quick 2000;
 *                         under --callgrind at 100 msg/s, before every step)
 *   --baseline-keyobject  the reference servers verify JWTs with a KeyObject instead of the secret
 *                         string (jsonwebtoken then skips a failing createPublicKey per call)
 *   --raw-sweeps          also sweep the raw socket.io server (the load generator's ceiling)
 *   --round-trip[=false]  run (or not) the CPU phase's raw socket.io + round trip reference
 *                         (full: on, quick: off)
 *   --profile[=LIST]      start these servers (agenthub,agenthub-b,baseline,raw,raw-rt; default
 *                         agenthub)
 *                         with --cpu-prof; profiles land in <out>/profiles/, read them with
 *                         bench/profile-summary.ts
 *   --profile-interval=US  their sampling interval (V8's default: 1000 µs); a short one
 *                         perturbs what it measures (100 µs tripled AgentHub's CPU per message)
 *   --db-core=generator|server  the core of the embedded PostgreSQL and of the echo process:
 *                         the load generator's (default) or the servers' (see docs/benchmarks.md)
 *   --heap-snapshots[=LIST]  servers (default agenthub) that write a heap snapshot before and
 *                         after opening the idle connections (bench/heap-summary.ts diffs them)
 *   --variant=FLAGS       also run "AgentHub B" in the CPU phase, right after AgentHub at every
 *                         rate: a second AgentHub process with these node flags added to
 *                         config.nodeFlags (space-separated; "" for none), on the same database,
 *                         to compare two configurations or builds within one run (needs the
 *                         cpu phase)
 *   --variant-main=FILE   AgentHub B runs this main.js instead (another build, e.g. of an
 *                         earlier commit in a git worktree, with this checkout's nodeFlags);
 *                         implies --variant. It starts after AgentHub on AgentHub's database,
 *                         so a build with newer migrations applies them there first
 *   --callgrind[=LIST]    run these servers (default agenthub,raw) under valgrind's callgrind and
 *                         count the user-space instructions they execute per delivery in the CPU
 *                         phase (deterministic where CPU time on a VM is not; the kernel's share
 *                         is not counted), V8 single-threaded, sorted by kind of function (see
 *                         bench/callgrind-summary.ts). CPU phase only, at a rate they sustain
 *                         under valgrind (e.g. --phases=cpu --cpu-rates=10): steps are not cut
 *                         for latency or backlog, their CPU times are valgrind's and the CPU
 *                         target is not judged. Dumps land in <out>/profiles/callgrind-<start>/
 *   --out=DIR             results folder (default bench/results)
 *   --render=FILE.json    only rewrite FILE.md (summary recomputed) from an earlier run's JSON
 * With DATABASE_URL set, PostgreSQL is that server (two scratch databases named *_bench_*, dropped
 * afterwards); otherwise an embedded cluster in a temporary folder.
 *
 * Processes: PostgreSQL (embedded: core 0, inherited from this runner, or core 1 with
 * --db-core=server; DATABASE_URL's server is not pinned), AgentHub, the baseline, a raw socket.io server and a second one that waits for one
 * round trip to an echo process per message (all on core 1, idle unless under load; the echo
 * process where PostgreSQL is), the load generator (core 0), and this runner (core 0, idle
 * while a phase runs). Phases alternate A B A B; only one server receives
 * load at a time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { generateApiToken } from '../src/auth/api-token';
import { uuidv7 } from '../src/common/uuid';
import type {
  AccessTokenDto,
  AgentDto,
  CreatedApiTokenDto,
  MessagePage,
  RoomDto,
} from '../src/contracts/rest';
import { byKind, mutatorOf, selfCosts } from './callgrind-summary';
import { compileBench } from './lib/compile';
import { serverNodeFlags } from './lib/node-flags';
import { median } from './lib/histogram';
import {
  applySchema,
  benchName,
  BenchSql,
  startDatabases,
  type BenchDatabases,
} from './lib/database';
import {
  loadAverage1,
  machineBusySeconds,
  machineStealSeconds,
  machineInfo,
  pin,
  pinTree,
  rssBytes,
  treeCpuSeconds,
  type MachineInfo,
} from './lib/proc';
import type {
  ConnectResult,
  HttpResult,
  ServerKind,
  StepCommand,
  StepResult,
} from './lib/protocol';
import { cpuRatesOf, renderMarkdown } from './lib/report';
import { signAccessToken } from './lib/server-common';
import {
  freePort,
  GENERATOR_CORE,
  GeneratorProcess,
  ManagedServer,
  SERVER_CORE,
} from './lib/servers';

const ROOT = resolve(__dirname, '..');
/** How long a full run holds the idle connections before its second RSS reading: a ping interval
 * (20 s) and then some. */
const HOLD_MS = 25_000;

// ------------------------------------------------------------------------------------------------
// Options

export type Phase = 'conn' | 'rest' | 'cpu' | 'rate';

export interface Options {
  quick: boolean;
  force: boolean;
  rounds: number;
  connections: number;
  connectConcurrency: number;
  subscriberCounts: number[];
  publishers: number;
  phases: Phase[];
  bodyBytes: number;
  /** Rate sweep: first rate per subscriber count, growth factor, bisection steps, timings. */
  startRates: Record<number, number>;
  factor: number;
  bisect: number;
  maxSteps: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  abortLatencyMs: number;
  cpuRates: number[];
  cpuSubscribers: number;
  cpuWarmupMs: number;
  cpuDurationMs: number;
  /**
   * Once per server, before its first CPU step (under --callgrind: before every step of a server
   * under callgrind): this many ms at cpuBurstRate, not measured.
   */
  cpuBurstMs: number;
  cpuBurstRate: number;
  /** The CPU phase also runs raw socket.io + round trip (an echo process per message). */
  roundTripReference: boolean;
  /** Where the embedded PostgreSQL and the echo process run: the load generator's core or the servers'. */
  databaseCore: 'generator' | 'server';
  restConnections: number;
  restWarmupSeconds: number;
  restSeconds: number;
  historyMessages: number;
  rawSweeps: boolean;
  baselineKeyObject: boolean;
  waitIdleSeconds: number;
  /** Servers started with --cpu-prof. */
  profile: ServerKind[];
  /** Their sampling interval in µs (V8's default, 1000, when absent). */
  profileIntervalUs?: number;
  /** Servers that write heap snapshots around the connection phase. */
  heapSnapshots: ServerKind[];
  /** Servers run under callgrind, whose instructions per delivery the CPU phase counts. */
  callgrind: ServerKind[];
  /** "AgentHub B" of the CPU phase: extra node flags, and another build's main.js. */
  variant?: { flags: string[]; main?: string };
  outDir: string;
}

type ModeSettings = Omit<
  Options,
  | 'quick'
  | 'force'
  | 'profile'
  | 'profileIntervalUs'
  | 'heapSnapshots'
  | 'outDir'
  | 'phases'
  | 'rawSweeps'
  | 'baselineKeyObject'
  | 'waitIdleSeconds'
  | 'databaseCore'
  | 'variant'
  | 'callgrind'
>;

const FULL: ModeSettings = {
  rounds: 2,
  connections: 10_000,
  connectConcurrency: 50,
  subscriberCounts: [1, 10, 100],
  publishers: 4,
  bodyBytes: 128,
  startRates: { 1: 250, 10: 250, 100: 50 },
  factor: 2,
  bisect: 3,
  maxSteps: 12,
  warmupMs: 2000,
  durationMs: 6000,
  drainMs: 2000,
  abortLatencyMs: 1000,
  // 200 msg/s: every message is a batch of one (a round trip per message). 2000 msg/s: a busy hub
  // (about a third of AgentHub's sustained rate), where group commit has sends to gather.
  cpuRates: [200, 2000],
  cpuSubscribers: 10,
  // Steady state: at 200 msg/s V8 is still optimising a large server's hot path for several
  // seconds (TurboFan threads busy, main thread in baseline code), which a short warm-up would
  // bill per message.
  cpuWarmupMs: 10_000,
  cpuDurationMs: 6000,
  // The first CPU step of a run found a Node server still compiling (AgentHub 39 µs per delivery
  // in round 1, 29 µs in rounds 2 and 3 of one run; the baseline 43 vs 33-36): a few thousand
  // messages at a rate every server sustains get V8's optimised code in place first.
  cpuBurstMs: 5000,
  cpuBurstRate: 500,
  roundTripReference: true,
  restConnections: 10,
  restWarmupSeconds: 2,
  restSeconds: 10,
  historyMessages: 60,
};

const QUICK: ModeSettings = {
  ...FULL,
  rounds: 1,
  connections: 2000,
  startRates: { 1: 250, 10: 250, 100: 50 },
  bisect: 1,
  maxSteps: 8,
  warmupMs: 500,
  durationMs: 2000,
  drainMs: 1000,
  cpuRates: [200],
  cpuWarmupMs: 5000,
  cpuDurationMs: 3000,
  cpuBurstMs: 2000,
  // A reference beside the target, not the target: quick mode keeps its 3-minute budget.
  roundTripReference: false,
  restWarmupSeconds: 1,
  restSeconds: 4,
};

function profileList(raw: string | undefined, all = 'agenthub'): ServerKind[] {
  if (raw === undefined) return [];
  const list = (raw === 'true' ? all : raw).split(',') as ServerKind[];
  for (const kind of list) {
    if (!['agenthub', 'agenthub-b', 'baseline', 'raw', 'raw-rt'].includes(kind))
      throw new Error(`unknown server ${kind}`);
  }
  return list;
}

function booleanFlag(name: string, raw: string | undefined): boolean {
  if (raw !== 'true' && raw !== 'false') throw new Error(`--${name} takes no value, or =false`);
  return raw === 'true';
}

function databaseCoreFlag(raw: string | undefined): Options['databaseCore'] {
  if (raw === undefined) return 'generator';
  if (raw !== 'generator' && raw !== 'server')
    throw new Error('--db-core takes generator or server');
  if (raw === 'server' && process.env.DATABASE_URL)
    throw new Error("--db-core moves the embedded cluster; DATABASE_URL's server is not pinned");
  return raw;
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg}`);
    flags.set(match[1], match[2] ?? 'true');
  }
  const quick = flags.get('quick') === 'true';
  const base = quick ? QUICK : FULL;
  const int = (name: string, fallback: number): number => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const phases = (flags.get('phases') ?? 'conn,rest,cpu,rate').split(',') as Phase[];
  for (const phase of phases) {
    if (!['conn', 'rest', 'cpu', 'rate'].includes(phase)) throw new Error(`unknown phase ${phase}`);
  }
  const known = [
    'quick',
    'force',
    'rounds',
    'connections',
    'subscribers',
    'phases',
    'cpu-rates',
    'cpu-warmup',
    'cpu-duration',
    'cpu-burst',
    'profile',
    'heap-snapshots',
    'out',
    'raw-sweeps',
    'baseline-keyobject',
    'wait-idle',
    'round-trip',
    'db-core',
    'profile-interval',
    'variant',
    'variant-main',
    'callgrind',
  ];
  for (const name of flags.keys())
    if (!known.includes(name)) throw new Error(`unknown option --${name}`);
  if (flags.has('callgrind') && phases.some((phase) => phase !== 'cpu'))
    throw new Error('--callgrind counts instructions in the CPU phase only: add --phases=cpu');
  if ((flags.has('variant') || flags.has('variant-main')) && !phases.includes('cpu'))
    throw new Error('--variant runs in the CPU phase only: add cpu to --phases');
  const variantMain = flags.get('variant-main');
  if (variantMain !== undefined && (variantMain === 'true' || !existsSync(resolve(variantMain))))
    throw new Error(
      `--variant-main=FILE: ${variantMain === 'true' ? 'no file given' : `${variantMain} does not exist`}`,
    );
  return {
    ...base,
    quick,
    force: flags.get('force') === 'true',
    profile: profileList(flags.get('profile')),
    profileIntervalUs: flags.has('profile-interval') ? int('profile-interval', 1000) : undefined,
    heapSnapshots: profileList(flags.get('heap-snapshots')),
    callgrind: profileList(flags.get('callgrind'), 'agenthub,raw'),
    // Under callgrind the window opens with a pause (instrumentation switched on) and every
    // message costs tens of times more: the step must not be cut short for its latency.
    abortLatencyMs: flags.has('callgrind') ? 600_000 : base.abortLatencyMs,
    // Single-threaded under valgrind, a server keeps up with a few hundred messages a second at
    // most, even with instrumentation off.
    cpuBurstRate: flags.has('callgrind') ? 100 : base.cpuBurstRate,
    rawSweeps: flags.get('raw-sweeps') === 'true',
    baselineKeyObject: flags.get('baseline-keyobject') === 'true',
    waitIdleSeconds: flags.has('wait-idle') ? int('wait-idle', 0) : 0,
    roundTripReference: flags.has('round-trip')
      ? booleanFlag('round-trip', flags.get('round-trip'))
      : base.roundTripReference,
    databaseCore: databaseCoreFlag(flags.get('db-core')),
    rounds: int('rounds', base.rounds),
    connections: int('connections', base.connections),
    cpuRates: flags.has('cpu-rates')
      ? (flags.get('cpu-rates') ?? '').split(',').map((rate) => {
          if (!/^[1-9][0-9]*$/.test(rate))
            throw new Error('--cpu-rates must list positive integers');
          return Number(rate);
        })
      : base.cpuRates,
    cpuWarmupMs: int('cpu-warmup', base.cpuWarmupMs),
    cpuDurationMs: int('cpu-duration', base.cpuDurationMs),
    cpuBurstMs: int('cpu-burst', base.cpuBurstMs),
    subscriberCounts: flags.has('subscribers')
      ? (flags.get('subscribers') ?? '').split(',').map(Number)
      : base.subscriberCounts,
    phases,
    variant:
      flags.has('variant') || flags.has('variant-main')
        ? {
            flags: (flags.get('variant') === 'true' ? '' : (flags.get('variant') ?? ''))
              .split(' ')
              .filter(Boolean),
            main: flags.has('variant-main') ? resolve(flags.get('variant-main')!) : undefined,
          }
        : undefined,
    outDir: resolve(flags.get('out') ?? join(ROOT, 'bench', 'results')),
  };
}

// ------------------------------------------------------------------------------------------------
// Results

export interface ConnectionPhase extends ConnectResult {
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** RSS after holding the connections through a whole ping interval (full runs). */
  rssHeldMiB?: number;
  /** The larger of the two readings: what the RSS target is judged on. */
  rssPeakMiB: number;
  kibPerConnection: number;
}

export interface SweepPhase {
  subscribers: number;
  /** The highest rate that passed (p99 < 100 ms, nothing lost), 0 if none did. */
  maxRate: number;
  /** The step at that rate. */
  best?: StepResult;
  steps: StepResult[];
}

export interface PhaseRecord<T> {
  round: number;
  server: ServerKind;
  phase: Phase;
  /** Average cores used by processes outside the benchmark while the phase ran (steal included). */
  foreignCpuCores: number;
  /** Average cores of steal over the phase, the hypervisor running something else (counted in
   * foreignCpuCores' busy time; absent in older results). */
  stealCores?: number;
  wallSeconds: number;
  data: T;
}

export interface SummaryRow {
  metric: string;
  unit: string;
  agenthub: number | null;
  baseline: number | null;
  raw: number | null;
  /** AgentHub / baseline (or / raw for the CPU target, or / raw + round trip beside it). */
  ratio: number | null;
  ratioOf: 'baseline' | 'raw' | 'raw-rt' | null;
  target: string;
  met: boolean | null;
  /** A caveat, e.g. a fixed-rate phase that a server could not sustain. */
  note?: string;
}

export interface BenchResults {
  version: 1;
  mode: 'quick' | 'full';
  command: string;
  startedAt: string;
  finishedAt: string;
  /** From start to results, including idleWaitSeconds. */
  wallSeconds: number;
  /** Time spent waiting for an idle machine (--wait-idle) before anything started. */
  idleWaitSeconds?: number;
  machine: MachineInfo;
  /** Which AgentHub was measured: the checkout and when dist/ was built. */
  build?: { commit: string; uncommittedFiles: number; distBuiltAt: string };
  database: 'embedded' | 'external';
  pinning: string;
  idleCheck: { load1: number; busyCores: number; busy: boolean };
  flags: string[];
  options: Options;
  summary: SummaryRow[];
  phases: Array<PhaseRecord<unknown>>;
}

// ------------------------------------------------------------------------------------------------
// Helpers

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function log(message: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`[${elapsed}s] ${message}`);
}

const started = Date.now();

async function rest<T>(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function buildInfo(mainJs: string): NonNullable<BenchResults['build']> {
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    uncommittedFiles: git('status', '--porcelain', '--', 'src', 'migrations')
      .split('\n')
      .filter(Boolean).length,
    // tsc is incremental (tsconfig.json): it rewrites only what changed, so the newest file tells.
    distBuiltAt: new Date(newestMtime(dirname(mainJs))).toISOString(),
  };
}

function newestMtime(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    return Math.max(newest, mtime);
  }, 0);
}

/** Is something else using the CPU? A 2 s sample of /proc/stat and the 1-minute load. */
async function idleCheck(nproc: number): Promise<BenchResults['idleCheck']> {
  const load1 = loadAverage1();
  const before = machineBusySeconds();
  await sleep(2000);
  const busyCores = round2((machineBusySeconds() - before) / 2);
  return { load1, busyCores, busy: busyCores > 0.25 || load1 > nproc };
}

// ------------------------------------------------------------------------------------------------
// Servers and what the load generator needs to talk to them

interface Fixture {
  kind: ServerKind;
  label: string;
  server: ManagedServer;
  publisherToken: string;
  subscriberToken: string;
  createRoom(): Promise<string>;
  /** A room holding historyMessages messages, for the REST phase (not for raw). */
  historyRoomId?: string;
}

const JWT_TTL_SECONDS = 86_400;

async function agenthubFixture(
  server: ManagedServer,
  adminToken: string,
  sql: BenchSql,
  options: Options,
  /** AgentHub B (--variant) has no REST phase: no history room to fill. */
  withHistory = true,
): Promise<Fixture> {
  const url = server.url;
  const jwtFor = async (role: string): Promise<{ id: string; jwt: string }> => {
    const agent = await rest<AgentDto>(url, 'POST', '/v1/agents', adminToken, {
      name: benchName(`bench-${role}`),
    });
    const token = await rest<CreatedApiTokenDto>(
      url,
      'POST',
      `/v1/agents/${agent.id}/tokens`,
      adminToken,
      {
        name: 'bench',
      },
    );
    const access = await rest<AccessTokenDto>(url, 'POST', '/v1/auth/token', undefined, {
      apiToken: token.token,
    });
    return { id: agent.id, jwt: access.accessToken };
  };
  const publisher = await jwtFor('pub');
  const subscriber = await jwtFor('sub');
  const createRoom = async (): Promise<string> =>
    (
      await rest<RoomDto>(url, 'POST', '/v1/rooms', publisher.jwt, {
        name: benchName('bench'),
        visibility: 'public',
      })
    ).id;
  const historyRoomId = await createRoom();
  if (withHistory)
    await sql.prefill(historyRoomId, publisher.id, options.historyMessages, options.bodyBytes);
  return {
    kind: 'agenthub',
    label: 'AgentHub',
    server,
    publisherToken: publisher.jwt,
    subscriberToken: subscriber.jwt,
    createRoom,
    historyRoomId,
  };
}

async function baselineFixture(
  server: ManagedServer,
  secret: string,
  sql: BenchSql,
  options: Options,
): Promise<Fixture> {
  const publisherId = await sql.insertAgent(benchName('bench-pub'));
  const subscriberId = await sql.insertAgent(benchName('bench-sub'));
  const createRoom = (): Promise<string> => sql.insertRoom(benchName('bench'), publisherId);
  const historyRoomId = await createRoom();
  await sql.prefill(historyRoomId, publisherId, options.historyMessages, options.bodyBytes);
  return {
    kind: 'baseline',
    label: 'baseline',
    server,
    publisherToken: signAccessToken(publisherId, secret, JWT_TTL_SECONDS),
    subscriberToken: signAccessToken(subscriberId, secret, JWT_TTL_SECONDS),
    createRoom,
    historyRoomId,
  };
}

function rawFixture(server: ManagedServer, secret: string, roundTrip = false): Fixture {
  return {
    kind: roundTrip ? 'raw-rt' : 'raw',
    label: roundTrip ? 'raw socket.io + round trip' : 'raw socket.io',
    server,
    publisherToken: signAccessToken(randomUUID(), secret, JWT_TTL_SECONDS),
    subscriberToken: signAccessToken(randomUUID(), secret, JWT_TTL_SECONDS),
    createRoom: () => Promise.resolve(uuidv7()),
  };
}

/** Both pages must have the same shape: 50 messages and hasMore, or the comparison is void. */
async function checkHistory(fixture: Fixture): Promise<string> {
  const path = `/v1/rooms/${fixture.historyRoomId}/messages?limit=50`;
  const page = await rest<MessagePage>(fixture.server.url, 'GET', path, fixture.publisherToken);
  if (page.items.length !== 50 || !page.hasMore || page.items[0].seq !== 1)
    throw new Error(
      `${fixture.label}: history page has ${page.items.length} items, hasMore ${page.hasMore}`,
    );
  return fixture.server.url + path;
}

// ------------------------------------------------------------------------------------------------
// Phases

class Bench {
  readonly records: Array<PhaseRecord<unknown>> = [];
  /** Servers that had their CPU warm-up burst. */
  private readonly burstDone = new Set<ServerKind>();

  constructor(
    private readonly options: Options,
    private readonly generator: GeneratorProcess,
    private readonly databases: BenchDatabases,
    /** Where this run's callgrind dumps go (a folder per run: pids repeat across runs). */
    private readonly callgrindDir: string,
  ) {}

  /** Runs one phase against one server, recording its wall time and the CPU used by others. */
  async record<T>(
    round: number,
    fixture: Fixture,
    phase: Phase,
    run: () => Promise<T>,
  ): Promise<T> {
    if (!fixture.server.running) throw new Error(`${fixture.label} is not running`);
    const wallStart = Date.now();
    const machineStart = machineBusySeconds();
    const stealStart = machineStealSeconds();
    const oursStart = treeCpuSeconds(process.pid);
    const data = await run();
    const wallSeconds = (Date.now() - wallStart) / 1000;
    const foreign = machineBusySeconds() - machineStart - (treeCpuSeconds(process.pid) - oursStart);
    this.records.push({
      round,
      server: fixture.kind,
      phase,
      foreignCpuCores: round2(Math.max(0, foreign) / wallSeconds),
      stealCores: round2((machineStealSeconds() - stealStart) / wallSeconds),
      wallSeconds: round2(wallSeconds),
      data,
    });
    return data;
  }

  async connections(fixture: Fixture): Promise<ConnectionPhase> {
    const { server } = fixture;
    // A fresh process, so that earlier phases' garbage does not absorb the connections' memory.
    await server.restart();
    await sleep(2000);
    const before = rssBytes(server.pid) ?? 0;
    const snapshots = this.options.heapSnapshots.includes(fixture.kind);
    if (snapshots) await this.heapSnapshot(fixture, 'before');
    const result = await this.generator.call(
      {
        type: 'connect',
        url: server.url,
        token: fixture.subscriberToken,
        count: this.options.connections,
        concurrency: this.options.connectConcurrency,
        timeoutMs: this.options.quick ? 40_000 : 150_000,
      },
      200_000,
    );
    await sleep(2000);
    const after = rssBytes(server.pid) ?? 0;
    if (snapshots) await this.heapSnapshot(fixture, `after-${this.options.connections}`);
    // Held, not just opened: every connection pings (every 20 s) and its garbage reaches the old
    // generation, so a full run reads RSS again after one more ping interval.
    let held: number | undefined;
    if (!this.options.quick) {
      await sleep(HOLD_MS);
      held = rssBytes(server.pid) ?? 0;
    }
    await this.generator.call({ type: 'disconnect' }, 30_000);
    await sleep(this.options.quick ? 1000 : 3000);
    const phase: ConnectionPhase = {
      ...result,
      rssBeforeMiB: round2(before / 2 ** 20),
      rssAfterMiB: round2(after / 2 ** 20),
      rssHeldMiB: held === undefined ? undefined : round2(held / 2 ** 20),
      rssPeakMiB: round2(Math.max(after, held ?? 0) / 2 ** 20),
      kibPerConnection: round2((after - before) / 1024 / Math.max(1, result.opened)),
    };
    log(
      `  ${fixture.label}: ${phase.opened}/${phase.requested} connections at ${phase.perSecond}/s, ` +
        `RSS ${phase.rssBeforeMiB} -> ${phase.rssAfterMiB} MiB = ${phase.kibPerConnection} KiB each` +
        (phase.rssHeldMiB === undefined
          ? ''
          : `, ${phase.rssHeldMiB} MiB held ${HOLD_MS / 1000} s`) +
        (phase.failed ? ` (${phase.failed} failed: ${phase.firstError})` : ''),
    );
    return phase;
  }

  /** SIGUSR2 (--heapsnapshot-signal): waits for the snapshot file, then names it. */
  private async heapSnapshot(fixture: Fixture, label: string): Promise<void> {
    const dir = join(this.options.outDir, 'profiles');
    const existing = new Set(readdirSync(dir));
    process.kill(fixture.server.pid, 'SIGUSR2');
    const deadline = Date.now() + 180_000;
    let lastSize = -1;
    while (Date.now() < deadline) {
      await sleep(1000);
      const file = readdirSync(dir).find(
        (name) => name.endsWith('.heapsnapshot') && !existing.has(name),
      );
      if (!file) continue;
      const size = statSync(join(dir, file)).size;
      if (size > 0 && size === lastSize) {
        const target = join(dir, `heap-${fixture.kind}-${label}.heapsnapshot`);
        renameSync(join(dir, file), target);
        log(`  ${fixture.label}: heap snapshot ${target}`);
        return;
      }
      lastSize = size;
    }
    throw new Error(`${fixture.label}: no heap snapshot after 180 s`);
  }

  async http(fixture: Fixture): Promise<HttpResult> {
    const url = await checkHistory(fixture);
    const result = await this.generator.call(
      {
        type: 'http',
        url,
        token: fixture.publisherToken,
        connections: this.options.restConnections,
        warmupSeconds: this.options.restWarmupSeconds,
        durationSeconds: this.options.restSeconds,
      },
      (this.options.restWarmupSeconds + this.options.restSeconds) * 1000 + 30_000,
    );
    log(
      `  ${fixture.label}: ${result.requestsPerSecond} req/s, p99 ${result.latencyP99Ms} ms, ` +
        `${result.bytesPerResponse} B/response` +
        (result.non2xx || result.errors
          ? ` (${result.non2xx} non-2xx, ${result.errors} errors)`
          : ''),
    );
    return result;
  }

  private async openRoom(fixture: Fixture, subscribers: number): Promise<void> {
    await this.generator.call(
      {
        type: 'open-room',
        target: {
          kind: fixture.kind,
          url: fixture.server.url,
          roomId: await fixture.createRoom(),
          publisherToken: fixture.publisherToken,
          subscriberToken: fixture.subscriberToken,
        },
        publishers: this.options.publishers,
        subscribers,
      },
      60_000,
    );
  }

  private step(
    rate: number,
    cpu?: StepCommand['cpu'],
    timing?: { warmupMs: number; durationMs: number },
  ): Promise<StepResult> {
    const warmupMs = timing?.warmupMs ?? this.options.warmupMs;
    const durationMs = timing?.durationMs ?? this.options.durationMs;
    return this.generator.call(
      {
        type: 'step',
        rate: Math.round(rate),
        warmupMs,
        durationMs,
        drainMs: this.options.drainMs,
        bodyBytes: this.options.bodyBytes,
        abortLatencyMs: this.options.abortLatencyMs,
        // Under valgrind a server falls behind at times (the window opens with a pause): let it.
        abortOnBacklog: this.options.callgrind.length === 0,
        cpu,
      },
      warmupMs +
        durationMs +
        this.options.drainMs +
        (this.options.callgrind.length > 0 ? 600_000 : 30_000),
    );
  }

  async cpu(fixture: Fixture, rate: number): Promise<StepResult> {
    await this.openRoom(fixture, this.options.cpuSubscribers);
    try {
      // Under callgrind, before every step: after a minute of the other servers' turns, V8 had
      // recompiled half of what ran in the window (TurboFan's share of the instructions counted
      // went from 3% in round 1 to 50-56% in round 2, in AgentHub and raw alike).
      const callgrind = this.options.callgrind.includes(fixture.kind);
      if ((callgrind || !this.burstDone.has(fixture.kind)) && this.options.cpuBurstMs > 0) {
        this.burstDone.add(fixture.kind);
        const burst = await this.step(this.options.cpuBurstRate, undefined, {
          warmupMs: 0,
          durationMs: this.options.cpuBurstMs,
        });
        log(
          `  ${fixture.label}: warm-up burst at ${burst.rate} msg/s (not measured): ${burst.verdict}`,
        );
      }
      const step = await this.step(
        rate,
        {
          serverPid: fixture.server.pid,
          dbRootPid: fixture.kind.startsWith('raw') ? undefined : this.databases.postmasterPid,
          callgrindOutFile: this.options.callgrind.includes(fixture.kind)
            ? join(this.callgrindDir, `callgrind.${fixture.kind}.${fixture.server.pid}`)
            : undefined,
        },
        { warmupMs: this.options.cpuWarmupMs, durationMs: this.options.cpuDurationMs },
      );
      if (step.cpu?.callgrindDump) classifyInstructions(step.cpu);
      log(
        `  ${fixture.label} at ${rate} msg/s: ${step.cpu?.serverUsPerDelivery} µs server CPU per delivery` +
          (step.cpu?.dbUsPerDelivery !== undefined
            ? ` (+${step.cpu.dbUsPerDelivery} µs PostgreSQL)`
            : '') +
          (step.cpu?.ipisPerMessage !== undefined
            ? `, ${step.cpu.serverSleepsPerMessage} server sleeps and ${step.cpu.ipisPerMessage} IPIs per message`
            : '') +
          (step.cpu?.instructionsPerDelivery !== undefined
            ? `, ${step.cpu.instructionsPerDelivery} instructions per delivery ` +
              `(${step.cpu.mutatorInstructionsPerDelivery} without GC and compilation; callgrind)`
            : '') +
          ` over ${step.cpu?.deliveries} deliveries; ${step.verdict}`,
      );
      return step;
    } finally {
      await this.generator.call({ type: 'close-room' }, 30_000);
    }
  }

  /** Raises the rate geometrically until a step fails, then bisects between pass and fail. */
  async sweep(fixture: Fixture, subscribers: number): Promise<SweepPhase> {
    const options = this.options;
    await this.openRoom(fixture, subscribers);
    const steps: StepResult[] = [];
    let pass: StepResult | undefined;
    let failRate = Infinity;
    let rate = options.startRates[subscribers] ?? 100;
    const run = async (target: number): Promise<StepResult> => {
      const step = await this.step(target);
      steps.push(step);
      log(
        `  ${fixture.label} ×${subscribers}: ${step.rate} msg/s -> ` +
          `p50 ${step.latency.p50Ms} p99 ${step.latency.p99Ms} ms, ack p99 ${step.ackLatency.p99Ms} ms, ` +
          `lost ${step.lost}, gen ${Math.round(step.generatorCpu * 100)}% : ${step.verdict}`,
      );
      return step;
    };
    try {
      while (steps.length < options.maxSteps) {
        const step = await run(rate);
        if (step.pass) {
          pass = step;
          rate *= options.factor;
        } else {
          failRate = rate;
          if (pass || rate <= 25) break;
          rate /= options.factor;
        }
        if (pass && failRate !== Infinity) break;
      }
      for (let i = 0; i < options.bisect && pass && failRate !== Infinity; i += 1) {
        const middle = Math.round(Math.sqrt(pass.rate * failRate));
        if (middle <= pass.rate || middle >= failRate) break;
        const step = await run(middle);
        if (step.pass) pass = step;
        else failRate = middle;
      }
    } finally {
      await this.generator.call({ type: 'close-room' }, 30_000);
    }
    return { subscribers, maxRate: pass?.rate ?? 0, best: pass, steps };
  }
}

// ------------------------------------------------------------------------------------------------
// Summary

function summarise(records: Array<PhaseRecord<unknown>>, options: Options): SummaryRow[] {
  const values = <T>(
    server: ServerKind,
    phase: Phase,
    pick: (data: T) => number | undefined,
  ): number[] =>
    records
      .filter((record) => record.server === server && record.phase === phase)
      .map((record) => pick(record.data as T))
      .filter((value): value is number => value !== undefined && Number.isFinite(value));
  const row = (
    metric: string,
    unit: string,
    phase: Phase,
    pick: (data: never) => number | undefined,
    target: string,
    check?: (row: SummaryRow) => boolean | null,
    ratioOf: 'baseline' | 'raw' | 'raw-rt' = 'baseline',
    hub: 'agenthub' | 'agenthub-b' = 'agenthub',
  ): SummaryRow => {
    const agenthub = median(values(hub, phase, pick));
    const baseline = median(values('baseline', phase, pick));
    // The raw column holds the reference the ratio is against: raw, or raw + round trip.
    const raw = median(values(ratioOf === 'raw-rt' ? 'raw-rt' : 'raw', phase, pick));
    const denominator = ratioOf === 'baseline' ? baseline : raw;
    const result: SummaryRow = {
      metric,
      unit,
      agenthub: agenthub === null ? null : round2(agenthub),
      baseline: baseline === null ? null : round2(baseline),
      raw: raw === null ? null : round2(raw),
      ratio: agenthub !== null && denominator ? round2(agenthub / denominator) : null,
      ratioOf: denominator ? ratioOf : null,
      target,
      met: null,
    };
    result.met = check ? check(result) : null;
    return result;
  };
  const rows: SummaryRow[] = [];
  for (const subscribers of options.subscriberCounts) {
    rows.push(
      row(
        `sustained msg/s, ${subscribers} subscriber${subscribers === 1 ? '' : 's'} (p99 < 100 ms, no loss)`,
        'msg/s',
        'rate',
        (data: SweepPhase) => (data.subscribers === subscribers ? data.maxRate : undefined),
        subscribers === 10 ? '>= 2.5x baseline' : '',
        subscribers === 10 ? (r) => (r.ratio === null ? null : r.ratio >= 2.5) : undefined,
      ),
    );
  }
  const counted = (server: ServerKind): boolean =>
    records.some(
      (record) =>
        record.server === server &&
        (record.data as StepResult).cpu?.instructionsPerDelivery !== undefined,
    );
  /** Under --callgrind: each hub counted against each reference counted, with and without GC. */
  const instructionRows = (rate: number): SummaryRow[] =>
    (['agenthub', 'agenthub-b'] as const)
      .filter(counted)
      .flatMap((hub) =>
        (['mutator', 'all'] as const).flatMap((threads) =>
          (['raw', 'raw-rt'] as const)
            .filter(counted)
            .map((reference) =>
              row(
                `user-space instructions per delivered message${threads === 'mutator' ? ' without GC and compilation' : ''} (callgrind, ${rate} msg/s)` +
                  (hub === 'agenthub-b' ? ', AgentHub column: AgentHub B' : '') +
                  (reference === 'raw-rt' ? ', raw column: raw socket.io + round trip' : ''),
                'instructions',
                'cpu',
                (data: StepResult) =>
                  data.rate !== rate
                    ? undefined
                    : threads === 'mutator'
                      ? data.cpu?.mutatorInstructionsPerDelivery
                      : data.cpu?.instructionsPerDelivery,
                '',
                undefined,
                reference,
                hub,
              ),
            ),
        ),
      );
  for (const rate of cpuRatesOf(options)) {
    const unsustained = records
      .filter((record) => record.phase === 'cpu' && (record.data as StepResult).rate === rate)
      .filter((record) => !(record.data as StepResult).pass)
      .map((record) => `${record.server} r${record.round}`);
    const cpuNote =
      unsustained.length > 0
        ? `the fixed-rate step failed its checks for ${unsustained.join(', ')} (see the CPU table)`
        : undefined;
    const atRate = (pick: (step: StepResult) => number | undefined) => (data: StepResult) =>
      data.rate === rate ? pick(data) : undefined;
    rows.push(
      {
        ...row(
          `server CPU per delivered message (${rate} msg/s x ${options.cpuSubscribers} subscribers)`,
          'µs',
          'cpu',
          atRate((step) => step.cpu?.serverUsPerDelivery),
          '<= 1.5x raw socket.io',
          // Under callgrind the times are valgrind's: nothing to judge.
          (r) => (r.ratio === null || options.callgrind.length > 0 ? null : r.ratio <= 1.5),
          'raw',
        ),
        note: cpuNote,
      },
      ...(records.some((record) => record.server === 'agenthub-b')
        ? [
            {
              ...row(
                `server CPU per delivered message (${rate} msg/s), AgentHub column: AgentHub B (${variantLabel(options.variant)})`,
                'µs',
                'cpu',
                atRate((step) => step.cpu?.serverUsPerDelivery),
                '',
                undefined,
                'raw',
                'agenthub-b',
              ),
              note: cpuNote,
            },
          ]
        : []),
      ...(records.some((record) => record.server === 'raw-rt')
        ? [
            {
              ...row(
                `server CPU per delivered message (${rate} msg/s), raw column: raw socket.io + one round trip to an echo process`,
                'µs',
                'cpu',
                atRate((step) => step.cpu?.serverUsPerDelivery),
                '',
                undefined,
                'raw-rt',
              ),
              note: cpuNote,
            },
          ]
        : []),
      ...instructionRows(rate),
      {
        ...row(
          `PostgreSQL CPU per delivered message (same phase, ${rate} msg/s)`,
          'µs',
          'cpu',
          atRate((step) => step.cpu?.dbUsPerDelivery),
          '',
        ),
        note: cpuNote,
      },
    );
  }
  rows.push(
    row(
      `memory per idle authenticated connection (${options.connections} connections)`,
      'KiB',
      'conn',
      (data: ConnectionPhase) => data.kibPerConnection,
      '<= 24 KiB',
      (r) => (r.agenthub === null ? null : r.agenthub <= 24),
    ),
    row(
      `server RSS holding ${options.connections} connections (the larger of 2 s after opening and ${HOLD_MS / 1000} s later)`,
      'MiB',
      'conn',
      (data: ConnectionPhase) => data.rssPeakMiB ?? data.rssAfterMiB,
      options.connections >= 10_000 ? '<= 300 MB at 10,000' : '(<= 300 MB at 10,000: full run)',
      options.connections >= 10_000
        ? (r) => (r.agenthub === null ? null : r.agenthub * 1.048576 <= 300)
        : undefined,
    ),
    row(
      `connections opened per second`,
      'conn/s',
      'conn',
      (data: ConnectionPhase) => data.perSecond,
      '',
    ),
    row(
      `REST history requests/s (limit=50, ${options.restConnections} connections)`,
      'req/s',
      'rest',
      (data: HttpResult) => data.requestsPerSecond,
      '>= 0.9x baseline',
      (r) => (r.ratio === null ? null : r.ratio >= 0.9),
    ),
  );
  return rows;
}

/** Sorts the instructions of a callgrind window by kind (all threads of its dump). */
function classifyInstructions(cpu: NonNullable<StepResult['cpu']>): void {
  try {
    const deliveries = Math.max(1, cpu.deliveries);
    const kinds = byKind(selfCosts(cpu.callgrindDump!));
    cpu.mutatorInstructionsPerDelivery = Math.round(mutatorOf(kinds) / deliveries);
    cpu.instructionsByKind = Object.fromEntries(
      [...kinds]
        .sort((a, b) => b[1] - a[1])
        .map(([kind, cost]) => [kind, Math.round(cost / deliveries)]),
    );
  } catch (error) {
    // The counts are in; only their breakdown is missing.
    log(`  callgrind_annotate failed on ${cpu.callgrindDump}: ${String(error)}`);
  }
}

/** How AgentHub B differs from AgentHub, for the log and the summary. */
function variantLabel(variant: Options['variant']): string {
  if (!variant) return '';
  const parts = [
    ...(variant.flags.length > 0 ? [`node flags + ${variant.flags.join(' ')}`] : []),
    ...(variant.main ? [`build ${relativeToRoot(variant.main)}`] : []),
  ];
  return parts.join(', ') || 'the same build and flags';
}

function relativeToRoot(file: string): string {
  return file.startsWith(ROOT + '/') ? file.slice(ROOT.length + 1) : file;
}

// ------------------------------------------------------------------------------------------------
// Main

/** `--render=FILE.json`: recomputes the summary and rewrites FILE.md, without running anything. */
function render(file: string): void {
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  results.summary = summarise(results.phases, results.options);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(file.replace(/\.json$/, '.md'), renderMarkdown(results));
  console.log(`rewrote ${file} and ${file.replace(/\.json$/, '.md')}`);
}

async function main(): Promise<void> {
  const renderArg = process.argv.find((arg) => arg.startsWith('--render='));
  if (renderArg) return render(resolve(renderArg.slice('--render='.length)));
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const machine = machineInfo();
  const flags: string[] = [];
  const mainJs = join(ROOT, 'dist', 'src', 'main.js');
  // AgentHub runs as `npm start` runs it: with package.json's config.nodeFlags.
  const nodeFlags = serverNodeFlags(ROOT);
  if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
  if (!machine.taskset) flags.push('taskset not available: processes are not pinned');
  else if (machine.nproc < 2)
    flags.push('fewer than 2 cores: load generator and server share a core');

  log(
    `mode ${options.quick ? 'quick' : 'full'}: ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGiB} GiB`,
  );
  const waitStarted = Date.now();
  let idle = await idleCheck(machine.nproc);
  const waitUntil = Date.now() + options.waitIdleSeconds * 1000;
  while (idle.busy && Date.now() < waitUntil) {
    log(`waiting for an idle machine (${idle.busyCores} cores busy, load ${idle.load1})`);
    await sleep(3000);
    idle = await idleCheck(machine.nproc);
  }
  const idleWaitSeconds = Math.round((Date.now() - waitStarted) / 1000) - 2;
  if (idle.busy) {
    const message = `machine busy: ${idle.busyCores} cores in use over 2 s, 1-min load ${idle.load1}`;
    if (!options.force) {
      console.error(
        `${message}. Refusing to benchmark; wait, or pass --force (results get flagged).`,
      );
      process.exit(3);
    }
    flags.push(`${message} at start (--force)`);
    log(`WARNING ${message}; continuing because of --force`);
  }

  pin(process.pid, GENERATOR_CORE);
  const distBench = compileBench(ROOT);
  const tempDir = mkdtempSync(join(tmpdir(), 'agenthub-bench-'));
  // As root, the embedded PostgreSQL runs as `postgres`, which must be able to traverse this.
  chmodSync(tempDir, 0o711);
  const logDir = join(tempDir, 'logs');
  mkdirSync(logDir);
  const secret = randomBytes(48).toString('base64url');
  const adminToken = generateApiToken();
  // Stops what was started, newest first, exactly once however many paths ask for it.
  const cleanups: Array<() => Promise<void>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const step of [...cleanups].reverse())
        await step().catch((error: unknown) => console.error(error));
    })());
  const interrupted = (signal: string): void => {
    console.error(`${signal}: stopping the servers and PostgreSQL`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => interrupted('SIGINT'));
  process.once('SIGTERM', () => interrupted('SIGTERM'));

  try {
    log(`PostgreSQL: ${process.env.DATABASE_URL ? 'DATABASE_URL' : `embedded in ${tempDir}`}`);
    const databases = await startDatabases(tempDir);
    cleanups.push(() => databases.stop());
    // The embedded cluster inherited the runner's core; --db-core=server moves it to the servers'.
    const databaseCore = options.databaseCore === 'server' ? SERVER_CORE : GENERATOR_CORE;
    const databasePinned =
      databases.postmasterPid !== undefined && databaseCore !== GENERATOR_CORE
        ? pinTree(databases.postmasterPid, databaseCore)
        : databases.postmasterPid !== undefined;
    await applySchema(databases.baselineUrl);
    const agenthubSql = new BenchSql(databases.agenthubUrl);
    const baselineSql = new BenchSql(databases.baselineUrl);
    cleanups.push(() => agenthubSql.close());
    cleanups.push(() => baselineSql.close());

    const baseEnv: Record<string, string | undefined> = {
      ...process.env,
      REDIS_URL: undefined,
      DATABASE_URL: undefined,
    };
    const profileDir = join(options.outDir, 'profiles');
    const callgrindDir = join(
      profileDir,
      `callgrind-${startedAt.toISOString().replace(/[:.]/g, '-')}`,
    );
    if (options.profile.length + options.heapSnapshots.length > 0)
      mkdirSync(profileDir, { recursive: true });
    if (options.callgrind.length > 0) {
      mkdirSync(callgrindDir, { recursive: true });
      for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
        try {
          execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
        } catch {
          throw new Error(`--callgrind needs ${tool} (Debian: apt-get install valgrind)`);
        }
      }
      flags.push(
        `under callgrind (${options.callgrind.join(', ')}): their CPU times are valgrind's; compare instructions`,
      );
    }
    // Under callgrind with instrumentation off until a CPU window opens (load-generator.ts).
    // V8 runs single-threaded there: with its compiler threads, optimisation work queued during
    // the burst spilled into the measured window (TurboFan 0-3% of a server's first window, 49-56%
    // of its second); on the main thread it is done when the code is first hot.
    const callgrindFlags = (kind: ServerKind): string[] =>
      options.callgrind.includes(kind) ? ['--single-threaded'] : [];
    const wrapperOf = (kind: ServerKind): string[] | undefined =>
      options.callgrind.includes(kind)
        ? [
            'valgrind',
            '--tool=callgrind',
            '--instr-atstart=no',
            '--separate-threads=yes',
            `--callgrind-out-file=${join(callgrindDir, `callgrind.${kind}.%p`)}`,
          ]
        : undefined;
    const profileInterval = options.profileIntervalUs
      ? [`--cpu-prof-interval=${options.profileIntervalUs}`]
      : [];
    const profiling = (kind: ServerKind): string[] => [
      ...(options.profile.includes(kind)
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...profileInterval]
        : []),
      ...(options.heapSnapshots.includes(kind)
        ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profileDir}`]
        : []),
    ];
    const agenthubPort = await freePort();
    const agenthubEnv = (port: number): Record<string, string | undefined> => ({
      ...baseEnv,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databases.agenthubUrl,
      AGENTHUB_DATA_DIR: join(tempDir, 'agenthub'),
      JWT_SECRET: secret,
      JWT_TTL: String(JWT_TTL_SECONDS),
      ADMIN_API_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_REST_ANON: '1000000',
      RATE_LIMIT_REST_AUTH: '1000000',
      RATE_LIMIT_WS_EVENTS: '100000',
      RATE_LIMIT_WS_SOCKETS_PER_AGENT: '100000',
      RATE_LIMIT_WS_HANDSHAKES: '1000000',
      SHUTDOWN_TIMEOUT: '10',
    });
    const agenthub = await ManagedServer.start({
      label: 'AgentHub',
      args: [...profiling('agenthub'), ...callgrindFlags('agenthub'), ...nodeFlags, mainJs],
      cwd: ROOT,
      port: agenthubPort,
      readyPath: '/readyz',
      logFile: join(logDir, 'agenthub.log'),
      env: agenthubEnv(agenthubPort),
      wrapper: wrapperOf('agenthub'),
    });
    cleanups.push(() => agenthub.stop());
    log(`AgentHub pid ${agenthub.pid} on ${agenthub.url}`);
    // Started after the first, so its migrations find the schema in place.
    let agenthubB: ManagedServer | undefined;
    if (options.variant && options.phases.includes('cpu')) {
      const port = await freePort();
      agenthubB = await ManagedServer.start({
        label: 'AgentHub B',
        args: [
          ...profiling('agenthub-b'),
          ...callgrindFlags('agenthub-b'),
          ...nodeFlags,
          ...options.variant.flags,
          options.variant.main ?? mainJs,
        ],
        // Another build runs from its own checkout (<root>/dist/src/main.js).
        cwd: options.variant.main ? resolve(options.variant.main, '..', '..', '..') : ROOT,
        port,
        readyPath: '/readyz',
        logFile: join(logDir, 'agenthub-b.log'),
        env: { ...agenthubEnv(port), AGENTHUB_DATA_DIR: join(tempDir, 'agenthub-b') },
        wrapper: wrapperOf('agenthub-b'),
      });
      const started = agenthubB;
      cleanups.push(() => started.stop());
      log(`AgentHub B pid ${started.pid} on ${started.url}: ${variantLabel(options.variant)}`);
    }
    const referenceEnv = {
      ...baseEnv,
      JWT_SECRET: secret,
      JWT_KEY_OBJECT: String(options.baselineKeyObject),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
    };
    const baselinePort = await freePort();
    const baseline = await ManagedServer.start({
      label: 'baseline',
      args: [
        ...profiling('baseline'),
        ...callgrindFlags('baseline'),
        join(distBench, 'baseline-server.js'),
      ],
      cwd: ROOT,
      port: baselinePort,
      readyPath: '/healthz',
      logFile: join(logDir, 'baseline.log'),
      env: { ...referenceEnv, PORT: String(baselinePort), DATABASE_URL: databases.baselineUrl },
      wrapper: wrapperOf('baseline'),
    });
    cleanups.push(() => baseline.stop());
    const rawPort = await freePort();
    const raw = await ManagedServer.start({
      label: 'raw socket.io',
      args: [
        ...profiling('raw'),
        ...callgrindFlags('raw'),
        join(distBench, 'raw-socketio-server.js'),
      ],
      cwd: ROOT,
      port: rawPort,
      readyPath: '/healthz',
      logFile: join(logDir, 'raw.log'),
      env: { ...referenceEnv, PORT: String(rawPort) },
      wrapper: wrapperOf('raw'),
    });
    cleanups.push(() => raw.stop());
    // A process that answers each byte with itself: the round trip without a database's work.
    let rawRt: ManagedServer | undefined;
    if (options.roundTripReference && options.phases.includes('cpu')) {
      const echoPort = await freePort();
      const echoSocket = join(tempDir, 'echo.sock');
      const echo = await ManagedServer.start({
        label: 'echo',
        args: [join(distBench, 'echo-server.js')],
        cwd: ROOT,
        port: echoPort,
        readyPath: '/healthz',
        logFile: join(logDir, 'echo.log'),
        env: { ...baseEnv, PORT: String(echoPort), SOCKET: echoSocket },
        // Where the database runs: the echo stands in for it.
        core: databaseCore,
      });
      cleanups.push(() => echo.stop());
      const rawRtPort = await freePort();
      const reference = await ManagedServer.start({
        label: 'raw socket.io + round trip',
        args: [
          ...profiling('raw-rt'),
          ...callgrindFlags('raw-rt'),
          join(distBench, 'raw-socketio-server.js'),
        ],
        cwd: ROOT,
        port: rawRtPort,
        readyPath: '/healthz',
        logFile: join(logDir, 'raw-rt.log'),
        env: { ...referenceEnv, PORT: String(rawRtPort), ROUND_TRIP_SOCKET: echoSocket },
        wrapper: wrapperOf('raw-rt'),
      });
      cleanups.push(() => reference.stop());
      rawRt = reference;
      log(`raw socket.io + round trip pid ${reference.pid} (echo pid ${echo.pid})`);
    }
    log(`baseline pid ${baseline.pid}, raw socket.io pid ${raw.pid}`);

    const generator = GeneratorProcess.start(join(distBench, 'load-generator.js'), ROOT);
    cleanups.push(() => generator.stop());
    const pinned =
      (process.env.DATABASE_URL !== undefined || databasePinned) &&
      agenthub.pinned &&
      (agenthubB?.pinned ?? true) &&
      baseline.pinned &&
      raw.pinned &&
      (rawRt?.pinned ?? true) &&
      generator.pinned;
    const pinning = pinned
      ? `taskset: servers on core 1, load generator and runner on core ${GENERATOR_CORE}; ` +
        (process.env.DATABASE_URL
          ? 'PostgreSQL (DATABASE_URL) unpinned'
          : databaseCore === GENERATOR_CORE
            ? `PostgreSQL on core ${GENERATOR_CORE} (inherited from the runner)`
            : `PostgreSQL on core ${databaseCore}, with the servers (--db-core=server)`) +
        (rawRt ? `; the echo process on core ${databaseCore}` : '')
      : 'not pinned';
    if (machine.taskset && !pinned) flags.push('taskset failed for some processes');

    const fixtures = {
      agenthub: await agenthubFixture(agenthub, adminToken, agenthubSql, options),
      baseline: await baselineFixture(baseline, secret, baselineSql, options),
      raw: rawFixture(raw, secret),
      rawRt: rawRt ? rawFixture(rawRt, secret, true) : undefined,
      agenthubB: agenthubB
        ? {
            ...(await agenthubFixture(agenthubB, adminToken, agenthubSql, options, false)),
            kind: 'agenthub-b' as const,
            label: 'AgentHub B',
          }
        : undefined,
    };
    const pair = [fixtures.agenthub, fixtures.baseline];
    const bench = new Bench(options, generator, databases, callgrindDir);

    for (let round = 1; round <= options.rounds; round += 1) {
      if (options.phases.includes('rest')) {
        log(`round ${round}: REST history`);
        for (const fixture of pair)
          await bench.record(round, fixture, 'rest', () => bench.http(fixture));
      }
      if (options.phases.includes('cpu')) {
        for (const [i, rate] of options.cpuRates.entries()) {
          log(
            `round ${round}: CPU per delivered message at ${rate} msg/s x ${options.cpuSubscribers}`,
          );
          const references = fixtures.rawRt ? [fixtures.raw, fixtures.rawRt] : [fixtures.raw];
          const hubs = fixtures.agenthubB
            ? [fixtures.agenthub, fixtures.agenthubB]
            : [fixtures.agenthub];
          for (const fixture of i === 0
            ? [...hubs, fixtures.baseline, ...references]
            : [...hubs, ...references])
            await bench.record(round, fixture, 'cpu', () => bench.cpu(fixture, rate));
        }
      }
      if (options.phases.includes('rate')) {
        for (const subscribers of options.subscriberCounts) {
          log(`round ${round}: rate sweep, ${subscribers} subscribers per room`);
          for (const fixture of options.rawSweeps ? [...pair, fixtures.raw] : pair) {
            const sweep = await bench.record(round, fixture, 'rate', () =>
              bench.sweep(fixture, subscribers),
            );
            log(`  ${fixture.label} ×${subscribers}: max ${sweep.maxRate} msg/s`);
          }
        }
      }
    }
    // Last: after 10,000 connections close, a server carries a large heap to collect for a while,
    // which would disturb any phase that followed.
    for (let round = 1; round <= options.rounds && options.phases.includes('conn'); round += 1) {
      log(`round ${round}: ${options.connections} idle connections`);
      for (const fixture of pair)
        await bench.record(round, fixture, 'conn', () => bench.connections(fixture));
    }

    const busyPhases = bench.records.filter((record) => record.foreignCpuCores > 0.2);
    if (busyPhases.length > 0) {
      flags.push(
        `machine busy during ${busyPhases.length} phase(s): ` +
          busyPhases
            .map(
              (r) =>
                `${r.phase}/${r.server}/r${r.round} ${r.foreignCpuCores} cores` +
                (r.stealCores ? ` (steal ${r.stealCores})` : ''),
            )
            .join(', '),
      );
    }
    const saturatedGenerator = bench.records.filter(
      (record) =>
        record.phase === 'rate' &&
        (record.data as SweepPhase).steps.some((s) => s.generatorCpu > 0.9 && !s.pass),
    );
    if (saturatedGenerator.length > 0)
      flags.push(
        'the load generator used > 90% of its core in a failing step: that limit may be the client',
      );

    const finishedAt = new Date();
    const results: BenchResults = {
      version: 1,
      mode: options.quick ? 'quick' : 'full',
      command: `bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      wallSeconds: Math.round((finishedAt.getTime() - started) / 1000),
      idleWaitSeconds,
      machine,
      build: buildInfo(mainJs),
      database: databases.mode,
      pinning,
      idleCheck: idle,
      flags,
      options,
      summary: summarise(bench.records, options),
      phases: bench.records,
    };
    await cleanup();
    rmSync(tempDir, { recursive: true, force: true });
    results.wallSeconds = Math.round((Date.now() - started) / 1000);
    writeResults(results, options.outDir);
  } catch (error) {
    console.error(`benchmark failed; server logs are in ${logDir}`);
    await cleanup();
    throw error;
  }
}

function writeResults(results: BenchResults, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify(results, null, 2) + '\n';
  const markdown = renderMarkdown(results);
  writeFileSync(join(outDir, 'latest.json'), json);
  writeFileSync(join(outDir, 'latest.md'), markdown);
  writeFileSync(join(outDir, `${results.mode}-${stamp}.json`), json);
  writeFileSync(join(outDir, `${results.mode}-${stamp}.md`), markdown);
  console.log('\n' + markdown);
  log(
    `results: ${join(outDir, 'latest.json')}, ${join(outDir, 'latest.md')} (wall ${results.wallSeconds} s)`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  });
}
