import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import {
  EVENT_LOOP_DELAY_GAUGES,
  reportLagBeyondInterval,
} from '../../src/metrics/event-loop-delay';

const valueOf = async (registry: Registry, name: string): Promise<number> => {
  const metric = registry.getSingleMetric(name) as Gauge;
  return (await metric.get()).values[0].value;
};

describe('event-loop delay gauges (reportLagBeyondInterval)', () => {
  it("takes the sampling interval off prom-client's own gauges, which read it plus the lag", async () => {
    const intervalMs = 50;
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: intervalMs });
    reportLagBeyondInterval(registry, intervalMs);
    await registry.metrics(); // a scrape resets the histogram
    await new Promise((done) => setTimeout(done, 8 * intervalMs));
    await registry.metrics();
    // Unpatched, every sample is at least the interval (~0.050 s): min stays above it.
    const min = await valueOf(registry, 'nodejs_eventloop_lag_min_seconds');
    const p50 = await valueOf(registry, 'nodejs_eventloop_lag_p50_seconds');
    expect(min).toBeGreaterThanOrEqual(0);
    expect(min).toBeLessThan(intervalMs / 2 / 1000);
    expect(p50).toBeGreaterThanOrEqual(min);
  });

  describe('on gauges of those names', () => {
    let registry: Registry;
    const gauge = (name: string): Gauge => registry.getSingleMetric(name) as Gauge;

    beforeEach(() => {
      registry = new Registry();
      for (const name of [...EVENT_LOOP_DELAY_GAUGES, 'nodejs_eventloop_lag_stddev_seconds'])
        new Gauge({ name, help: 'test', registers: [registry] });
      reportLagBeyondInterval(registry, 100);
    });

    it('reports the value minus the interval, with or without labels', async () => {
      gauge('nodejs_eventloop_lag_p99_seconds').set({}, 0.1375);
      gauge('nodejs_eventloop_lag_max_seconds').set(2.1);
      expect(await valueOf(registry, 'nodejs_eventloop_lag_p99_seconds')).toBeCloseTo(0.0375, 9);
      expect(await valueOf(registry, 'nodejs_eventloop_lag_max_seconds')).toBeCloseTo(2, 9);
    });

    it('still refuses a missing value, as prom-client does', () => {
      const p50 = gauge('nodejs_eventloop_lag_p50_seconds');
      const setWithoutValue = p50.set as unknown as (labels: object) => void;
      expect(() => setWithoutValue.call(p50, {})).toThrow(/not a valid number/);
    });

    it('floors at 0 and leaves an empty histogram (NaN) and the spread alone', async () => {
      gauge('nodejs_eventloop_lag_min_seconds').set({}, 0.0998);
      gauge('nodejs_eventloop_lag_mean_seconds').set({}, NaN);
      gauge('nodejs_eventloop_lag_stddev_seconds').set({}, 0.004);
      expect(await valueOf(registry, 'nodejs_eventloop_lag_min_seconds')).toBe(0);
      expect(await valueOf(registry, 'nodejs_eventloop_lag_mean_seconds')).toBeNaN();
      expect(await valueOf(registry, 'nodejs_eventloop_lag_stddev_seconds')).toBe(0.004);
    });
  });
});
