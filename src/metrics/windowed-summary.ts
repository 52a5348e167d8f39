import { type Registry, Summary } from 'prom-client';

type Exported = Awaited<ReturnType<Summary['get']>>;
type Value = Exported['values'][number];

/** Buckets grow by 2%: a reported quantile is within 1% of the true one. */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Smallest resolved value (1 µs in seconds); smaller ones share the first bucket. */
const FLOOR = 1e-6;
/** Up to 1,000 s; larger values share the last bucket. */
const BUCKETS = 2 + Math.ceil(Math.log(1e3 / FLOOR) / LOG_GROWTH);

export interface WindowedSummaryOptions {
  name: string;
  help: string;
  percentiles: number[];
  maxAgeSeconds: number;
  ageBuckets: number;
  /** Default: prom-client's global registry. */
  registers?: Registry[];
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
}

/**
 * A Prometheus summary of one unlabelled series whose observation is one array increment.
 * prom-client's Summary pushes every value into `ageBuckets` t-digests (a tree insert each), a
 * measurable share of the CPU of a message send. Here values are counted in log-spaced buckets
 * per time slice of maxAgeSeconds / ageBuckets; quantiles over the last `ageBuckets` slices are
 * computed when scraped. `_sum` and `_count` are cumulative, as with prom-client.
 */
export class WindowedSummary extends Summary {
  private readonly slices: Uint32Array[];
  private readonly sliceMs: number;
  private readonly clock: () => number;
  private readonly quantiles: number[];
  private readonly id: string;
  private readonly description: string;
  private currentSlice = -1;
  private count = 0;
  private sum = 0;

  constructor(options: WindowedSummaryOptions) {
    super({
      name: options.name,
      help: options.help,
      percentiles: options.percentiles,
      ...(options.registers ? { registers: options.registers } : {}),
    });
    this.quantiles = options.percentiles;
    this.id = options.name;
    this.description = options.help;
    this.slices = Array.from({ length: options.ageBuckets }, () => new Uint32Array(BUCKETS));
    this.sliceMs = (options.maxAgeSeconds * 1000) / options.ageBuckets;
    this.clock = options.now ?? Date.now;
  }

  override observe(
    labelsOrValue: Partial<Record<string, string | number>> | number,
    value?: number,
  ): void {
    const v = typeof labelsOrValue === 'number' ? labelsOrValue : value;
    if (v === undefined || !Number.isFinite(v)) throw new TypeError(`not a valid number: ${v}`);
    this.slice()[bucketOf(v)] += 1;
    this.count += 1;
    this.sum += v;
  }

  override get(): Promise<Exported> {
    this.slice();
    const merged = new Float64Array(BUCKETS);
    let total = 0;
    for (const slice of this.slices) {
      for (let i = 0; i < BUCKETS; i += 1) merged[i] += slice[i];
    }
    for (let i = 0; i < BUCKETS; i += 1) total += merged[i];
    const values: Value[] = this.quantiles.map((q) => ({
      metricName: this.id,
      labels: { quantile: q },
      value: total === 0 ? 0 : valueAt(merged, Math.max(1, Math.ceil(q * total))),
    }));
    values.push({ metricName: `${this.id}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.id}_count`, labels: {}, value: this.count });
    return Promise.resolve({
      name: this.id,
      help: this.description,
      type: 'summary',
      values,
      aggregator: 'sum',
    } as unknown as Exported);
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields are set.
    if (this.slices === undefined) return;
    for (const slice of this.slices) slice.fill(0);
    this.count = 0;
    this.sum = 0;
  }

  /** The slice of this moment; slices that fell out of the window are emptied on the way. */
  private slice(): Uint32Array {
    const index = Math.floor(this.clock() / this.sliceMs);
    if (index !== this.currentSlice) {
      const stale = Math.min(this.slices.length, Math.max(0, index - this.currentSlice));
      for (let k = 1; k <= stale; k += 1)
        this.slices[(this.currentSlice + k) % this.slices.length].fill(0);
      this.currentSlice = index;
    }
    return this.slices[index % this.slices.length];
  }
}

function bucketOf(value: number): number {
  if (value <= FLOOR) return 0;
  return Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(value / FLOOR) / LOG_GROWTH));
}

/** The geometric middle of the bucket that holds the rank-th smallest value. */
function valueAt(counts: Float64Array, rank: number): number {
  let seen = 0;
  for (let i = 0; i < counts.length; i += 1) {
    seen += counts[i];
    if (seen >= rank) return i === 0 ? FLOOR : FLOOR * GROWTH ** (i - 0.5);
  }
  return FLOOR * GROWTH ** (counts.length - 1.5);
}
