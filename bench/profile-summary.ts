/**
 * Summarises a V8 .cpuprofile (from `bench/run.ts --profile`, which starts AgentHub with
 * --cpu-prof): where the server's CPU goes, by package / AgentHub module (self and inclusive
 * time) and by function. Start-up is excluded by looking only at the busiest window.
 *
 *   npx ts-node --transpile-only bench/profile-summary.ts bench/results/profiles/CPU.*.cpuprofile \
 *     [--window=SECONDS (5)] [--skip=SECONDS of start-up to ignore (10)] [--top=N (30)]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const IDLE = new Set(['(idle)', '(program)', '(root)']);

/** Which package, Node module or AgentHub folder a frame belongs to. */
function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  const app = /\/dist\/(src|migrations)\/([^/]+)/.exec(url);
  if (app) return `agenthub/${app[1] === 'src' ? app[2].replace(/\.js$/, '') : 'migrations'}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0];
  return url;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((arg) => !arg.startsWith('--'));
  if (!file) {
    console.error('usage: profile-summary <file.cpuprofile> [--window=SECONDS] [--top=N]');
    process.exit(2);
  }
  const option = (name: string, fallback: number): number => {
    const raw = args.find((arg) => arg.startsWith(`--${name}=`));
    return raw ? Number(raw.split('=')[1]) : fallback;
  };
  const windowUs = option('window', 5) * 1e6;
  const skipUs = option('skip', 10) * 1e6;
  const top = option('top', 30);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  // Sample times, then the busiest window (most non-idle samples) of the requested length.
  const times: number[] = [];
  let at = profile.startTime;
  for (const delta of profile.timeDeltas) {
    at += delta;
    times.push(at);
  }
  const busy = profile.samples.map((id) => !IDLE.has(byId.get(id)?.callFrame.functionName ?? ''));
  let best = { from: 0, to: profile.samples.length, count: -1 };
  let from = times.findIndex((time) => time - profile.startTime >= skipUs);
  if (from < 0) from = 0;
  let count = 0;
  best.from = from;
  for (let to = from; to < profile.samples.length; to += 1) {
    if (busy[to]) count += 1;
    while (times[to] - times[from] > windowUs) {
      if (busy[from]) count -= 1;
      from += 1;
    }
    if (count > best.count) best = { from, to: to + 1, count };
  }

  const self = new Map<number, number>();
  const selfByCategory = new Map<string, number>();
  const inclusiveByCategory = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = best.from; i < best.to; i += 1) {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    total += dt;
    if (IDLE.has(node.callFrame.functionName)) {
      idle += dt;
      continue;
    }
    self.set(node.id, (self.get(node.id) ?? 0) + dt);
    const category = categoryOf(node.callFrame);
    selfByCategory.set(category, (selfByCategory.get(category) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (frame) seen.add(categoryOf(frame));
    }
    for (const name of seen)
      inclusiveByCategory.set(name, (inclusiveByCategory.get(name) ?? 0) + dt);
  }
  const busyUs = total - idle;
  const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7);
  const pct = (us: number): string =>
    `${((us / Math.max(1, busyUs)) * 100).toFixed(1).padStart(5)}%`;
  console.log(
    `${file}\nbusiest ${(windowUs / 1e6).toFixed(0)} s window: ${ms(total)} ms sampled, ` +
      `${ms(busyUs)} ms busy (${((busyUs / Math.max(1, total)) * 100).toFixed(0)}% of one core)\n`,
  );
  const print = (title: string, entries: Array<[string, number]>): void => {
    console.log(title);
    for (const [name, us] of entries.sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${ms(us)} ms ${pct(us)}  ${name}`);
    console.log('');
  };
  print('self time by package / module:', [...selfByCategory]);
  print('inclusive time by package / module (a sample counts once per category on its stack):', [
    ...inclusiveByCategory,
  ]);
  const byFunction = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const where = frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/');
    const key = `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  print('self time by function:', [...byFunction]);
}

main();
