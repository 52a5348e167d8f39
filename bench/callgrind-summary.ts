/**
 * Where a server's instructions go, from the callgrind dumps of `bench/run.ts --callgrind`: self
 * instructions by function and by kind (JavaScript, inline caches, other V8 builtins, V8's C++,
 * TurboFan, GC, JSON, libc), per delivery, and with two dumps the difference between them.
 *
 *   npx ts-node --transpile-only bench/callgrind-summary.ts DUMP [OTHER_DUMP] --per=2000 \
 *     [--perf-map=/tmp/perf-PID.map] [--other-perf-map=...] [--top=40]
 *
 * DUMP is a dump file, or a dump's prefix (`bench/results/profiles/callgrind-*\/callgrind.agenthub.PID.1`)
 * whose thread files (`-01`, `-02`, …) are summed: the CPU table's JSON has it as callgrindDump.
 * `--per` divides by the deliveries of the window (the CPU table's "deliveries"). JIT-compiled
 * JavaScript has no symbols, so callgrind names it by address; a server started with
 * `--perf-basic-prof` (e.g. `--variant=--perf-basic-prof --callgrind=agenthub-b`) writes
 * /tmp/perf-<pid>.map, whose names replace those addresses here. Needs callgrind_annotate.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface PerfSymbol {
  start: number;
  end: number;
  name: string;
}

function argument(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

/**
 * Self instructions by function name, as callgrind_annotate lists them, of one dump file, or of
 * every thread's file of a dump (`<dump>-<thread>`) when `dump` names none itself.
 */
export function selfCosts(dump: string, perfMap?: string): Map<string, number> {
  const symbols = perfMap && existsSync(perfMap) ? readPerfMap(perfMap) : [];
  const costs = new Map<string, number>();
  for (const file of dumpFiles(dump)) {
    for (const [name, cost] of annotate(file, symbols))
      costs.set(name, (costs.get(name) ?? 0) + cost);
  }
  return costs;
}

/** `dump` itself, or the files `<dump>-<thread>` of a run with --separate-threads=yes. */
export function dumpFiles(dump: string): string[] {
  if (existsSync(dump)) return [dump];
  const prefix = basename(dump) + '-';
  const files = readdirSync(dirname(dump))
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => join(dirname(dump), name));
  if (files.length === 0) throw new Error(`no callgrind dump ${dump} or ${dump}-<thread>`);
  return files;
}

/**
 * The newest dump of a process run with `--callgrind-out-file=<outFile>` and
 * --separate-threads=yes: its prefix `<outFile>.<n>` (the files are `<outFile>.<n>-<thread>`),
 * or undefined before the first dump.
 */
export function newestDump(outFile: string): string | undefined {
  const prefix = basename(outFile) + '.';
  const numbers = readdirSync(dirname(outFile))
    .map((name) => (name.startsWith(prefix) ? /^(\d+)-\d+$/.exec(name.slice(prefix.length)) : null))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]));
  return numbers.length === 0 ? undefined : `${outFile}.${Math.max(...numbers)}`;
}

/** The instructions a dump counted, from each file's `summary:` line: all threads, and thread 01. */
export function dumpTotals(dump: string): { all: number; main: number } {
  let all = 0;
  let main = 0;
  for (const file of dumpFiles(dump)) {
    const text = readFileSync(file, 'utf8');
    const summary = /^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text);
    if (!summary) throw new Error(`${file}: no summary line`);
    all += Number(summary[1]);
    if (file.endsWith('-01')) main = Number(summary[1]);
  }
  return { all, main };
}

function annotate(file: string, symbols: PerfSymbol[]): Map<string, number> {
  // --auto=no: no annotated source lines, whose counts would match the function lines below.
  const text = execFileSync(
    'callgrind_annotate',
    ['--inclusive=no', '--threshold=100', '--auto=no', file],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
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
    '\\bHeap::(?!Allocate)',
    'Scaveng',
    'MarkCompact',
    'Marking',
    'MarkBit',
    'Sweeper',
    '\\bheap::',
    'Evacuat',
    'PointersUpdating',
    'LiveObject',
    'RememberedSet',
    'RelocIterator',
    'VisitRelocInfo',
    'IterateObjectCache',
    'ObjectVisitor',
    'RootVisitor',
    'GCTracer',
  ].join('|'),
);

export function kindOf(name: string): string {
  if (name.startsWith('JS ') || name.includes('[???]')) return 'JavaScript (JIT code)';
  // Classified by the function's own (qualified, templated) name: its parameter list would match
  // too much (every `Handle<HeapObject>` argument would read as GC).
  const own = functionName(name);
  if (own.includes('compiler::') || own.includes('maglev')) return 'TurboFan / Maglev';
  if (/v8::internal::(Parser|PreParser|Scanner|interpreter::|BytecodeGenerator|Ast)/.test(own))
    return 'lazy compilation (parser, bytecode)';
  if (/Builtins_\w*IC\b|Builtins_\w*IC_/.test(own)) return 'inline caches (IC builtins)';
  if (own.includes('Builtins_')) return 'other V8 builtins';
  if (GC_FUNCTIONS.test(own)) return GC_KIND;
  if (/Json/.test(own)) return 'JSON';
  if (name.includes('libc.so')) return 'libc';
  if (name.includes('/usr/bin/node') || own.includes('node::') || own.includes('v8::'))
    return "V8's and Node's C++";
  return 'other';
}

/** `file:ret ns::Class<T>::fn(args) const [object]` without the file, the arguments and the object. */
function functionName(name: string): string {
  const withoutFile = name.slice(name.indexOf(':') + 1).replace(/ \[[^\]]*\]$/, '');
  let depth = 0;
  for (let i = 0; i < withoutFile.length; i += 1) {
    const c = withoutFile[i];
    if (c === '<') depth += 1;
    else if (c === '>') depth -= 1;
    else if (c === '(' && depth === 0 && i > 0 && !withoutFile.startsWith('(anonymous', i))
      return withoutFile.slice(0, i);
  }
  return withoutFile;
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

  console.log(
    per === 1 ? 'instructions in the window\n' : `instructions per delivery (window / ${per})\n`,
  );
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

  console.log(
    `\nTop ${top} functions${b ? ' by difference (first minus second, largest either way)' : ''}:\n`,
  );
  const rows = [...new Set([...a.keys(), ...(b?.keys() ?? [])])]
    .map((name) => ({ name, x: a.get(name) ?? 0, y: b?.get(name) ?? 0 }))
    .sort((p, q) => Math.abs(q.x - q.y) - Math.abs(p.x - p.y))
    .slice(0, top);
  for (const row of rows) {
    const value = b ? `${fmt(row.x - row.y)} (${fmt(row.x)} vs ${fmt(row.y)})` : fmt(row.x);
    console.log(`${value.padStart(b ? 28 : 10)}  ${row.name.slice(0, 140)}`);
  }
}

if (require.main === module) main();
