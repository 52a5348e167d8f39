/** The Markdown form of a benchmark run (bench/results/latest.md, and docs/benchmarks.md's table). */
import type { BenchResults, ConnectionPhase, PhaseRecord, SummaryRow, SweepPhase } from '../run';
import type { HttpResult, StepResult } from './protocol';

/** The CPU phase's rates; results written before there were several carry one `cpuRate`. */
export function cpuRatesOf(options: BenchResults['options']): number[] {
  return options.cpuRates ?? [(options as { cpuRate?: number }).cpuRate ?? 200];
}

const LABEL = {
  agenthub: 'AgentHub',
  'agenthub-b': 'AgentHub B',
  baseline: 'baseline',
  raw: 'raw socket.io',
  'raw-rt': 'raw socket.io + round trip',
} as const;

function value(number: number | null): string {
  return number === null ? '–' : number.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function ratio(row: SummaryRow): string {
  if (row.ratio === null) return '–';
  const of = { baseline: '', raw: ' raw', 'raw-rt': ' raw + round trip' };
  return `${row.ratio.toFixed(2)}x${row.ratioOf ? of[row.ratioOf] : ''}`;
}

function met(row: SummaryRow): string {
  if (row.met === null) return row.target ? row.target : '';
  return `${row.target} ${row.met ? '✅' : '❌'}`;
}

/** The summary table alone (what docs/benchmarks.md quotes). */
export function summaryTable(results: BenchResults): string {
  const lines = [
    '| metric | AgentHub | baseline | raw socket.io | AgentHub / baseline | target |',
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const row of results.summary) {
    lines.push(
      `| ${row.metric} (${row.unit})${row.note ? ` ⚠️ ${row.note}` : ''} | ${value(row.agenthub)} | ${value(row.baseline)} | ` +
        `${value(row.raw)} | ${ratio(row)} | ${met(row)} |`,
    );
  }
  return lines.join('\n');
}

function stepCell(step: StepResult): string {
  return step.pass
    ? `${step.rate} ✓ (p99 ${step.latency.p99Ms} ms)`
    : `${step.rate} ✗ (${step.verdict})`;
}

function byPhase<T>(results: BenchResults, phase: string): Array<PhaseRecord<T>> {
  return results.phases.filter((record) => record.phase === phase) as Array<PhaseRecord<T>>;
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, options } = results;
  const out: string[] = [
    `# AgentHub benchmark: ${results.mode} run, ${results.startedAt}`,
    '',
    `- Machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}`,
    ...(results.build
      ? [
          `- AgentHub: commit ${results.build.commit}` +
            (results.build.uncommittedFiles
              ? ` + ${results.build.uncommittedFiles} uncommitted file(s) in src/ or migrations/`
              : '') +
            `, dist/ built ${results.build.distBuiltAt}`,
        ]
      : []),
    `- PostgreSQL: ${results.database}; ${results.pinning}`,
    `- Rounds: ${options.rounds} (phases alternate AgentHub, baseline); wall time ${results.wallSeconds - (results.idleWaitSeconds ?? 0)} s` +
      (results.idleWaitSeconds
        ? ` (plus ${results.idleWaitSeconds} s waiting for an idle machine)`
        : ''),
    `- JWT verification in the baseline and raw servers: ${options.baselineKeyObject ? 'a KeyObject made once (--baseline-keyobject)' : "the secret string, jsonwebtoken's usual call"}`,
    `- Idle check at start: ${results.idleCheck.busyCores} cores busy, 1-min load ${results.idleCheck.load1}`,
    `- Command: \`npx ts-node --transpile-only ${results.command}\``,
    '',
  ];
  if (results.flags.length > 0) {
    out.push('**Flags:**', '', ...results.flags.map((flag) => `- ⚠️ ${flag}`), '');
  }
  out.push('## Summary (median over rounds)', '', summaryTable(results), '');

  const sweeps = byPhase<SweepPhase>(results, 'rate');
  if (sweeps.length > 0) {
    out.push(
      '## Rate sweeps',
      '',
      `Target rate in msg/s over ${options.publishers} publisher sockets, ${options.bodyBytes}-byte bodies, ` +
        `${options.warmupMs} ms warm-up + ${options.durationMs} ms measured per step; pass = p99 send-to-deliver < 100 ms, nothing lost.`,
      '',
      '| round | server | subscribers | max msg/s | steps |',
      '|---:|---|---:|---:|---|',
    );
    for (const record of sweeps) {
      out.push(
        `| ${record.round} | ${LABEL[record.server]} | ${record.data.subscribers} | ${record.data.maxRate} | ` +
          `${record.data.steps.map(stepCell).join('<br>')} |`,
      );
    }
    out.push('');
  }

  const cpu = byPhase<StepResult>(results, 'cpu');
  if (cpu.length > 0) {
    out.push(
      '## CPU per delivered message',
      '',
      `${cpuRatesOf(options).join(' and ')} msg/s to ${options.cpuSubscribers} subscribers for ${options.cpuDurationMs} ms after ${options.cpuWarmupMs} ms warm-up; ` +
        'CPU = utime + stime from /proc of the server process (and of the PostgreSQL process tree). ' +
        'The baseline runs at the first rate only.' +
        (cpu.some((record) => record.server === 'raw-rt')
          ? ' "raw socket.io + round trip" is the raw server waiting, per message, for one round ' +
            'trip to an echo process that does no work (what waiting on another process costs, ' +
            'without a database).'
          : ''),
      '',
      '| round | msg/s | server | deliveries | server CPU ms (kernel; main thread) | µs / delivery | PostgreSQL µs / delivery | server sleeps / msg | IPIs / msg | instructions / delivery (without GC and compilation) | p99 ms | verdict |',
      '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const record of cpu) {
      const step = record.data;
      out.push(
        `| ${record.round} | ${step.rate} | ${LABEL[record.server]} | ${step.cpu?.deliveries ?? '–'} | ${step.cpu ? `${step.cpu.serverCpuMs} (${step.cpu.serverSystemMs}${step.cpu.serverMainThreadMs !== undefined ? `; ${step.cpu.serverMainThreadMs}` : ''})` : '–'} | ` +
          `${step.cpu?.serverUsPerDelivery ?? '–'} | ${step.cpu?.dbUsPerDelivery ?? '–'} | ` +
          `${step.cpu?.serverSleepsPerMessage ?? '–'} | ${step.cpu?.ipisPerMessage ?? '–'} | ${step.cpu?.instructionsPerDelivery !== undefined ? `${step.cpu.instructionsPerDelivery} (${step.cpu.mutatorInstructionsPerDelivery ?? '–'})` : '–'} | ${step.latency.p99Ms} | ${step.verdict} |`,
      );
    }
    out.push('');
    const counted = cpu.filter((record) => record.data.cpu?.instructionsByKind);
    if (counted.length > 0) {
      const kinds = [
        ...new Set(counted.flatMap((r) => Object.keys(r.data.cpu!.instructionsByKind!))),
      ];
      out.push(
        'User-space instructions per delivery by kind of function (callgrind, all threads; ' +
          '`bench/callgrind-summary.ts` lists the functions):',
        '',
        `| kind | ${counted.map((r) => `${LABEL[r.server]} r${r.round}, ${r.data.rate} msg/s`).join(' | ')} |`,
        `|---|${counted.map(() => '---:').join('|')}|`,
        ...kinds.map(
          (kind) =>
            `| ${kind} | ${counted.map((r) => r.data.cpu!.instructionsByKind![kind] ?? 0).join(' | ')} |`,
        ),
        '',
      );
    }
  }

  const connections = byPhase<ConnectionPhase>(results, 'conn');
  if (connections.length > 0) {
    out.push(
      '## Idle authenticated connections',
      '',
      `${options.connections} WebSocket connections (one JWT for all), ${options.connectConcurrency} handshakes in flight.`,
      '',
      'RSS after: 2 s after the last connection opened; held: 25 s later, a ping interval on (full runs). KiB / connection from the first.',
      '',
      '| round | server | opened | conn/s | conn/s first → last tenth | RSS before MiB | RSS after MiB | RSS held MiB | KiB / connection |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const record of connections) {
      const data = record.data;
      out.push(
        `| ${record.round} | ${LABEL[record.server]} | ${data.opened}/${data.requested}${data.failed ? ` (${data.firstError})` : ''} | ` +
          `${data.perSecond} | ${data.perSecondByDecile[0] ?? '–'} → ${data.perSecondByDecile.at(-1) ?? '–'} | ${data.rssBeforeMiB} | ${data.rssAfterMiB} | ${data.rssHeldMiB ?? '–'} | ${data.kibPerConnection} |`,
      );
    }
    out.push('');
  }

  const http = byPhase<HttpResult>(results, 'rest');
  if (http.length > 0) {
    out.push(
      '## REST history (GET /v1/rooms/:id/messages?limit=50)',
      '',
      `autocannon, ${options.restConnections} connections, ${options.restWarmupSeconds} s warm-up + ${options.restSeconds} s.`,
      '',
      '| round | server | req/s | p50 ms | p99 ms | bytes / response | non-2xx | errors |',
      '|---:|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const record of http) {
      const data = record.data;
      out.push(
        `| ${record.round} | ${LABEL[record.server]} | ${data.requestsPerSecond} | ${data.latencyP50Ms} | ` +
          `${data.latencyP99Ms} | ${data.bytesPerResponse} | ${data.non2xx} | ${data.errors} |`,
      );
    }
    out.push('');
  }

  const foreign = results.phases.map((record) => record.foreignCpuCores);
  const steal = results.phases.map((record) => record.stealCores ?? 0);
  out.push(
    `CPU used by processes outside the benchmark during phases: max ${Math.max(0, ...foreign)} cores ` +
      `(phases above 0.2 are flagged). Steal time over the same phases (the hypervisor running ` +
      `other work; the busy figure counts it): max ${Math.max(0, ...steal)} cores.`,
    '',
  );
  return out.join('\n');
}
