/**
 * Diffs two V8 heap snapshots (from `bench/run.ts --heap-snapshots`, taken before and after
 * opening N idle connections): which object kinds grew, in bytes per connection. Self sizes only
 * (what the objects themselves occupy), grouped by constructor / closure name.
 *
 *   npx ts-node --transpile-only bench/heap-summary.ts \
 *     bench/results/profiles/heap-agenthub-before.heapsnapshot \
 *     bench/results/profiles/heap-agenthub-after-2000.heapsnapshot --per=2000 [--top=40]
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

/** Totals per "type:name" (e.g. "object:Socket", "closure:onclose", "string"). */
function groups(file: string): Map<string, Group> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const result = new Map<string, Group>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]];
    // Strings, numbers and code are grouped by type alone: their "name" is their content.
    const named = type === 'object' || type === 'closure' || type === 'native';
    const key = named ? `${type}:${heap.strings[heap.nodes[i + nameAt]]}` : type;
    const group = result.get(key) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += heap.nodes[i + sizeAt];
    result.set(key, group);
  }
  return result;
}

function main(): void {
  const args = process.argv.slice(2);
  const files = args.filter((arg) => !arg.startsWith('--'));
  const option = (name: string, fallback: number): number => {
    const raw = args.find((arg) => arg.startsWith(`--${name}=`));
    return raw ? Number(raw.split('=')[1]) : fallback;
  };
  if (files.length !== 2) {
    console.error(
      'usage: heap-summary <before.heapsnapshot> <after.heapsnapshot> --per=N [--top=40]',
    );
    process.exit(2);
  }
  const per = option('per', 1);
  const top = option('top', 40);
  const before = groups(files[0]);
  const after = groups(files[1]);
  const rows: Array<{ key: string; count: number; bytes: number }> = [];
  let total = 0;
  for (const [key, group] of after) {
    const old = before.get(key) ?? { count: 0, bytes: 0 };
    const bytes = group.bytes - old.bytes;
    total += bytes;
    rows.push({ key, count: group.count - old.count, bytes });
  }
  rows.sort((a, b) => b.bytes - a.bytes);
  console.log(
    `heap self size grew by ${(total / 2 ** 20).toFixed(1)} MiB = ${(total / per / 1024).toFixed(2)} KiB per connection (N=${per})\n`,
  );
  console.log('   bytes/conn  objects/conn  kind');
  for (const row of rows.slice(0, top)) {
    console.log(
      `${(row.bytes / per).toFixed(0).padStart(12)}  ${(row.count / per).toFixed(2).padStart(12)}  ${row.key}`,
    );
  }
}

main();
