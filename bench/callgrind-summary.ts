/**
 * Where a server's instructions go, from the callgrind dumps of `bench/run.ts --callgrind`: self
 * instructions by function and by kind (JavaScript, inline caches, other V8 builtins, V8's C++,
 * TurboFan, GC, JSON, libc), per delivery, and with two dumps the difference between them.
 *
 *   npx ts-node --transpile-only bench/callgrind-summary.ts DUMP [OTHER_DUMP] --per=2000 \
 *     [--perf-map=/tmp/perf-PID.map] [--other-perf-map=...] [--top=40]
 *
 * `--per` divides by the deliveries of the window (the CPU table's "deliveries"). JIT-compiled
 * JavaScript has no symbols, so callgrind names it by address; a server started with
 * `--perf-basic-prof` (e.g. `--variant=--perf-basic-prof --callgrind=agenthub-b`) writes
 * /tmp/perf-<pid>.map, whose names replace those addresses here. Needs callgrind_annotate.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

interface PerfSymbol {
  start: number;
  end: number;
  name: string;
}

function argument(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

/** Self instructions by function name, as callgrind_annotate lists them. */
export function selfCosts(dump: string, perfMap?: string): Map<string, number> {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', dump], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const symbols = perfMap && existsSync(perfMap) ? readPerfMap(perfMap) : [];
  const costs = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*)$/.exec(line);
    if (!match || match[2].includes('PROGRAM TOTALS')) continue;
    const name = resolve(match[2].trim(), symbols);
    costs.set(name, (costs.get(name) ?? 0) + Number(match[1].replace(/,/g, '')));
  }
  return costs;
}

/** `???:0x000000000d303040 [???]` (JIT code) becomes its perf map name, when there is one. */
function resolve(name: string, symbols: PerfSymbol[]): string {
  const address = /^\?\?\?:0x([0-9a-f]+)/.exec(name);
  if (!address || symbols.length === 0) return name.replace(/'\d+(?= \[)/, '');
  const at = parseInt(address[1], 16);
  let low = 0;
  let high = symbols.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (symbols[mid].end <= at) low = mid + 1;
    else if (symbols[mid].start > at) high = mid - 1;
    else return `JS ${symbols[mid].name}`;
  }
  return name;
}

function readPerfMap(file: string): PerfSymbol[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => {
      const start = parseInt(match[1], 16);
      return { start, end: start + parseInt(match[2], 16), name: match[3] };
    })
    .sort((a, b) => a.start - b.start);
}

/** Kinds of work that are not the program's own per-message code (see mutatorOf). */
export const GC_KIND = 'GC';
export const COMPILER_KINDS = ['TurboFan / Maglev', 'lazy compilation (parser, bytecode)'];

/** V8's collectors, their visitors and what they walk (code relocation info, caches, roots). */
const GC_FUNCTIONS = new RegExp(
  [
    'Heap',
    'Scaveng',
    'MarkCompact',
    'Marking',
    'MarkBit',
    'Sweeper',
    'heap::',
    'Evacuat',
    'PointersUpdating',
    'LiveObject',
    'RememberedSet',
    'RelocIterator',
    'VisitRelocInfo',
    'IterateObjectCache',
    'ObjectVisitor',
    'RootVisitor',
  ].join('|'),
);

export function kindOf(name: string): string {
  if (name.startsWith('JS ') || name.includes('[???]')) return 'JavaScript (JIT code)';
  if (name.includes('compiler::') || name.includes('maglev')) return 'TurboFan / Maglev';
  if (
    /v8::internal::(Parser|PreParser|Scanner|interpreter::|BytecodeGenerator|AstNode|Ast)/.test(
      name,
    )
  )
    return 'lazy compilation (parser, bytecode)';
  if (/Builtins_\w*IC\b|Builtins_\w*IC_/.test(name)) return 'inline caches (IC builtins)';
  if (name.includes('Builtins_')) return 'other V8 builtins';
  if (/Json/.test(name)) return 'JSON';
  if (GC_FUNCTIONS.test(name)) return GC_KIND;
  if (name.includes('libc.so')) return 'libc';
  if (name.includes('/usr/bin/node') || name.includes('node::') || name.includes('v8::'))
    return "V8's and Node's C++";
  return 'other';
}

export function byKind(costs: Map<string, number>): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const [name, cost] of costs) kinds.set(kindOf(name), (kinds.get(kindOf(name)) ?? 0) + cost);
  return kinds;
}

/** Everything but garbage collection and compilation: the program's own work. */
export function mutatorOf(kinds: Map<string, number>): number {
  let sum = 0;
  for (const [kind, cost] of kinds)
    if (kind !== GC_KIND && !COMPILER_KINDS.includes(kind)) sum += cost;
  return sum;
}

function main(): void {
  const dumps = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  if (dumps.length === 0 || dumps.length > 2) {
    console.error('usage: callgrind-summary.ts DUMP [OTHER_DUMP] --per=N [--perf-map=FILE]');
    process.exit(2);
  }
  const per = Number(argument('per') ?? 1);
  const top = Number(argument('top') ?? 40);
  const a = selfCosts(dumps[0], argument('perf-map'));
  const b = dumps[1] ? selfCosts(dumps[1], argument('other-perf-map')) : undefined;
  const fmt = (n: number): string => Math.round(n / per).toLocaleString('en-US');
  const total = (costs: Map<string, number>): number =>
    [...costs.values()].reduce((sum, n) => sum + n, 0);

  console.log(`instructions per ${per === 1 ? 'window' : `1/${per} of the window`}\n`);
  const kindsA = byKind(a);
  const kindsB = b ? byKind(b) : undefined;
  console.log(`| kind | ${dumps[0]} |${b ? ` ${dumps[1]} | difference |` : ''}`);
  console.log(`|---|---:|${b ? '---:|---:|' : ''}`);
  const kinds = [...new Set([...kindsA.keys(), ...(kindsB?.keys() ?? [])])].sort(
    (x, y) => (kindsA.get(y) ?? 0) - (kindsA.get(x) ?? 0),
  );
  for (const kind of kinds) {
    const x = kindsA.get(kind) ?? 0;
    const y = kindsB?.get(kind) ?? 0;
    console.log(`| ${kind} | ${fmt(x)} |${b ? ` ${fmt(y)} | ${fmt(x - y)} |` : ''}`);
  }
  console.log(
    `| all | ${fmt(total(a))} |${b ? ` ${fmt(total(b))} | ${fmt(total(a) - total(b))} |` : ''}`,
  );
  const mutatorA = mutatorOf(kindsA);
  const mutatorB = kindsB ? mutatorOf(kindsB) : 0;
  console.log(
    `| all but GC and compilation | ${fmt(mutatorA)} |${b ? ` ${fmt(mutatorB)} | ${fmt(mutatorA - mutatorB)} |` : ''}`,
  );

  console.log(`\nTop ${top} functions${b ? ' by difference (first minus second)' : ''}:\n`);
  const rows = [...new Set([...a.keys(), ...(b?.keys() ?? [])])]
    .map((name) => ({ name, x: a.get(name) ?? 0, y: b?.get(name) ?? 0 }))
    .sort((p, q) => q.x - q.y - (p.x - p.y))
    .slice(0, top);
  for (const row of rows) {
    const value = b ? `${fmt(row.x - row.y)} (${fmt(row.x)} vs ${fmt(row.y)})` : fmt(row.x);
    console.log(`${value.padStart(b ? 28 : 10)}  ${row.name.slice(0, 140)}`);
  }
}

if (require.main === module) main();
