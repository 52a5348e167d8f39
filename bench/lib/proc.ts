/**
 * Linux /proc readings for the benchmark: process CPU time and RSS, the machine's CPU counters,
 * process trees, and pinning with taskset / raising the fd limit with prlimit when they exist.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK, almost always 100). */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process (all its threads), in clock ticks. */
  ticks: number;
  /** utime alone (user mode); ticks - userTicks is kernel time. */
  userTicks: number;
  /** cutime + cstime: CPU of children it has reaped, in clock ticks. */
  childTicks: number;
}

/**
 * Parses /proc/<pid>/stat (the whole process), or /proc/<pid>/task/<tid>/stat when a thread id is
 * given (that thread alone: the main thread's tid is the pid); undefined when it is gone.
 */
export function procStat(pid: number, tid?: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(
      tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`,
      'utf8',
    );
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14 -> index 11.
  return {
    pid,
    ppid: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]),
    userTicks: Number(fields[11]),
    childTicks: Number(fields[13]) + Number(fields[14]),
  };
}

/** CPU seconds used by one process so far (its own threads only). */
export function cpuSeconds(pid: number): number | undefined {
  const stat = procStat(pid);
  return stat ? stat.ticks / ticksPerSecond() : undefined;
}

/**
 * Context switches of a process, summed over the threads it has now (the status file of each
 * task in /proc/<pid>/task; a thread that ended takes its counts along, and Node's threads live
 * as long as the process): voluntary ones are the times a thread went to sleep (and had to be
 * woken again), involuntary ones the times the scheduler took the core away. undefined when the
 * process is gone.
 */
export function contextSwitches(
  pid: number,
): { voluntary: number; involuntary: number } | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let voluntary = 0;
  let involuntary = 0;
  for (const task of tasks) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}

/**
 * Inter-processor interrupts the machine has taken since boot, all cores: rescheduling (RES) and
 * function-call (CAL) interrupts. Linux wakes a task that sleeps on another core with one of these
 * (a remote wake-up is queued to that core and kicked with a function-call IPI), so on a quiet
 * machine their rate counts the cross-core wake-ups; on a VM each one costs an exit to the
 * hypervisor. undefined where /proc/interrupts has neither line.
 */
export function interProcessorInterrupts(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/interrupts', 'utf8');
  } catch {
    return undefined;
  }
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const match = /^\s*(RES|CAL):((?:\s+\d+)+)/.exec(line);
    if (!match) continue;
    total =
      (total ?? 0) +
      match[2]
        .trim()
        .split(/\s+/)
        .reduce((sum, n) => sum + Number(n), 0);
  }
  return total;
}

/** Resident set size in bytes (VmRSS), or undefined when the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/**
 * CPU seconds of a process tree: every live member's own time plus what members have reaped, so
 * that children exiting between two readings (PostgreSQL backends, for instance) are not lost.
 */
export function treeCpuSeconds(rootPid: number): number {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const root = stats.find((stat) => stat.pid === rootPid);
  if (!root) return 0;
  let ticks = 0;
  const queue = [root];
  for (let i = 0; i < queue.length && i < 100_000; i += 1) {
    const stat = queue[i];
    ticks += stat.ticks + stat.childTicks;
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return ticks / ticksPerSecond();
}

/**
 * Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat: user, nice,
 * system and steal. Interrupt and softirq time is left out: it is not charged to any process,
 * and on loopback most of it is our own network traffic.
 */
export function machineBusySeconds(): number {
  const { user, nice, system, steal } = cpuTicks();
  return (user + nice + system + steal) / ticksPerSecond();
}

/**
 * Steal seconds of the whole machine since boot: time the hypervisor ran something else while
 * one of our vCPUs wanted to run. Part of machineBusySeconds, reported apart so a busy host can
 * be told from a busy guest.
 */
export function machineStealSeconds(): number {
  return cpuTicks().steal / ticksPerSecond();
}

function cpuTicks(): { user: number; nice: number; system: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [, user, nice, system, , , , , steal] = line.trim().split(/\s+/).map(Number);
  return { user, nice, system, steal };
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  taskset: boolean;
  fdLimit: string;
}

export function machineInfo(): MachineInfo {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) model = match[1].trim();
  } catch {
    /* keep os.cpus() */
  }
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    /* not Linux */
  }
  return {
    nproc: cpus().length,
    cpuModel: model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel,
    taskset: hasCommand('taskset'),
    fdLimit: shell('ulimit -n'),
  };
}

export function loadAverage1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

const commandCache = new Map<string, boolean>();

export function hasCommand(name: string): boolean {
  let known = commandCache.get(name);
  if (known === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      known = true;
    } catch {
      known = false;
    }
    commandCache.set(name, known);
  }
  return known;
}

function shell(command: string): string {
  try {
    return execFileSync('sh', ['-c', command]).toString().trim();
  } catch {
    return 'unknown';
  }
}

/** Pins every thread of a running process to one core; false when taskset is missing or fails. */
export function pin(pid: number, core: number): boolean {
  if (!hasCommand('taskset') || core >= cpus().length) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins a process and every descendant it has now to one core (a process forked later inherits
 * its parent's affinity, so new PostgreSQL backends follow the postmaster). False when any failed.
 */
export function pinTree(rootPid: number, core: number): boolean {
  const stats = allStats();
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i += 1) {
    for (const stat of stats) if (stat.ppid === tree[i]) tree.push(stat.pid);
  }
  return tree.map((pid) => pin(pid, core)).every(Boolean);
}

/** Raises RLIMIT_NOFILE of a running process (needs prlimit and the privilege to raise it). */
export function raiseFdLimit(pid: number, limit: number): boolean {
  if (!hasCommand('prlimit')) return false;
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}
