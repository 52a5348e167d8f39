import type { Gauge, Registry } from 'prom-client';

/**
 * prom-client's event-loop delay gauges that hold a delay (stddev, a spread, is left as it is).
 * Node's `monitorEventLoopDelay` records the time between two of its samples, so each of these
 * reads the sampling interval plus the lag: 0.100 s on an idle hub sampling every 100 ms.
 */
export const EVENT_LOOP_DELAY_GAUGES = ['min', 'max', 'mean', 'p50', 'p90', 'p99'].map(
  (stat) => `nodejs_eventloop_lag_${stat}_seconds`,
);

/**
 * Makes those gauges read the lag alone: the interval is taken off every value prom-client sets
 * (at each scrape, from its histogram), floored at 0 (a libuv timer can fire a fraction of a
 * millisecond early by the high-resolution clock). A histogram with no sample since the last
 * scrape still reads as prom-client reports it (NaN, or the empty histogram's min).
 */
export function reportLagBeyondInterval(registry: Registry, intervalMs: number): void {
  const intervalSeconds = intervalMs / 1000;
  const beyond = (value: number): number =>
    Number.isFinite(value) ? Math.max(0, value - intervalSeconds) : value;
  for (const name of EVENT_LOOP_DELAY_GAUGES) {
    const gauge = registry.getSingleMetric(name) as Gauge | undefined;
    if (!gauge) continue;
    const set = gauge.set.bind(gauge) as (labels: object, value?: number) => void;
    // prom-client calls set(labels, value); a bare set(value) is taken care of too, and a missing
    // value still gets prom-client's own error.
    gauge.set = (labels: object | number, value?: number): void =>
      typeof labels === 'number'
        ? set({}, beyond(labels))
        : set(labels, value === undefined ? undefined : beyond(value));
  }
}
