/**
 * A fixed-resolution latency histogram: 10 µs buckets up to 5 s, one overflow bucket, exact max.
 * Recording is O(1) and allocation-free, so a subscriber can record every delivery.
 */
export interface Percentiles {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

const BUCKET_US = 10;
const MAX_US = 5_000_000;
const BUCKETS = MAX_US / BUCKET_US;

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS + 1);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  record(us: number): void {
    const value = us < 0 ? 0 : us;
    const index = value >= MAX_US ? BUCKETS : Math.floor(value / BUCKET_US);
    this.counts[index] += 1;
    this.total += 1;
    this.sumUs += value;
    if (value > this.maxUs) this.maxUs = value;
  }

  get count(): number {
    return this.total;
  }

  /** The upper edge of the bucket holding the p-th percentile, in ms (overflow: the max). */
  percentileMs(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i += 1) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(((i + 1) * BUCKET_US) / 1000, this.maxUs / 1000);
    }
    return this.maxUs / 1000;
  }

  summary(): Percentiles {
    return {
      count: this.total,
      meanMs: round(this.total === 0 ? 0 : this.sumUs / this.total / 1000),
      p50Ms: round(this.percentileMs(50)),
      p90Ms: round(this.percentileMs(90)),
      p99Ms: round(this.percentileMs(99)),
      p999Ms: round(this.percentileMs(99.9)),
      maxMs: round(this.maxUs / 1000),
    };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The median of a few samples (rounds, windows); null when there are none. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
