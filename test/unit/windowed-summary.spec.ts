import { Registry } from 'prom-client';
import { WindowedSummary } from '../../src/metrics/windowed-summary';

describe('WindowedSummary (message_send_latency)', () => {
  let now: number;
  let registry: Registry;
  let summary: WindowedSummary;

  beforeEach(() => {
    now = 1_800_000_000_000;
    registry = new Registry();
    summary = new WindowedSummary({
      name: 'test_latency',
      help: 'test',
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 600,
      ageBuckets: 5,
      registers: [registry],
      now: () => now,
    });
  });

  const quantile = async (q: number): Promise<number> => {
    const { values } = await summary.get();
    return values.find((v) => v.labels.quantile === q)!.value;
  };

  it('reports quantiles within 1% of the exact ones', async () => {
    // 1 ms .. 100 ms, uniformly: exact p50 = 50.5 ms, p90 = 90.1 ms, p99 = 99.01 ms.
    for (let i = 0; i < 10_000; i += 1) summary.observe(0.001 + (0.099 * i) / 9_999);
    expect(Math.abs((await quantile(0.5)) / 0.0505 - 1)).toBeLessThan(0.01);
    expect(Math.abs((await quantile(0.9)) / 0.0901 - 1)).toBeLessThan(0.01);
    expect(Math.abs((await quantile(0.99)) / 0.09901 - 1)).toBeLessThan(0.01);
  });

  it('prints as a Prometheus summary the runbook alert can read', async () => {
    summary.observe(0.002);
    summary.observe(0.004);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE test_latency summary');
    expect(text).toMatch(/^test_latency\{quantile="0.99"\} 0\.00[34]\d*$/m);
    expect(text).toMatch(/^test_latency_sum 0\.006$/m);
    expect(text).toMatch(/^test_latency_count 2$/m);
  });

  it('forgets values older than the window, keeps sum and count cumulative', async () => {
    for (let i = 0; i < 100; i += 1) summary.observe(0.5);
    now += 300_000;
    for (let i = 0; i < 100; i += 1) summary.observe(0.001);
    expect(await quantile(0.99)).toBeGreaterThan(0.4); // both halves are in the window
    now += 400_000; // the slow values are 700 s old
    expect(await quantile(0.99)).toBeLessThan(0.0011);
    now += 600_000; // nothing in the window
    expect(await quantile(0.5)).toBe(0);
    const { values } = await summary.get();
    expect(values.find((v) => v.metricName === 'test_latency_count')!.value).toBe(200);
  });

  it('rejects values that are not finite numbers', () => {
    expect(() => summary.observe(Number.NaN)).toThrow(TypeError);
  });
});
