import { Histogram, Registry } from 'prom-client';
import { CountingHistogram } from '../../src/metrics/counting-histogram';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** message_send_latency_seconds: the same exposition as prom-client's Histogram, cheaper. */
describe('CountingHistogram', () => {
  let ours: Registry;
  let theirs: Registry;
  let counting: CountingHistogram;
  let reference: Histogram;

  beforeEach(() => {
    ours = new Registry();
    theirs = new Registry();
    const config = { name: 'latency_seconds', help: 'test', buckets: BUCKETS };
    counting = new CountingHistogram({ ...config, registers: [ours] });
    reference = new Histogram({ ...config, registers: [theirs] });
  });

  const both = (value: number): void => {
    counting.observe(value);
    reference.observe(value);
  };

  it('prints what prom-client prints, before any observation too', async () => {
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // On the bounds, between them, below the first, above the last.
    for (const value of [0, 0.0005, 0.001, 0.0011, 0.0025, 0.007, 0.1, 0.3, 1, 2.5, 2.6, 40])
      both(value);
    for (let i = 0; i < 1000; i += 1) both((i * 0.0137) % 3);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await counting.get()).toEqual(await reference.get());
  });

  it('accepts an empty labels object, as prom-client does', async () => {
    counting.observe({}, 0.02);
    reference.observe({}, 0.02);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('resets like prom-client: no series until the next observation', async () => {
    both(0.003);
    counting.reset();
    reference.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    both(0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses what prom-client refuses, and labels', () => {
    expect(() => counting.observe(Number.NaN)).toThrow(TypeError);
    expect(() => counting.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => counting.observe({ route: 'x' }, 1)).toThrow('no labels');
    expect(
      () => new CountingHistogram({ name: 'x', help: 'x', labelNames: ['a'], registers: [] }),
    ).toThrow('no labels');
  });
});
