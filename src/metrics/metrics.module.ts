import {
  Controller,
  Get,
  Global,
  Header,
  Module,
  OnModuleInit,
  type Provider,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  makeCounterProvider,
  makeGaugeProvider,
  getToken,
  PrometheusController,
  PrometheusModule,
} from '@willsoto/nestjs-prometheus';
import { collectDefaultMetrics, type Metric, register } from 'prom-client';
import { Public } from '../auth/decorators';
import { CountingHistogram } from './counting-histogram';
import { reportLagBeyondInterval } from './event-loop-delay';
import { METRIC } from './metric-names';
import { WindowedSummary } from './windowed-summary';

/** `/metrics` is for the scraper, like the probes: no credentials (runbook "Key Metrics"). */
@ApiExcludeController()
@Public()
@Controller()
class MetricsController extends PrometheusController {
  @Get()
  @Header('Cache-Control', 'no-store')
  override index(response: unknown): Promise<string> {
    return super.index(response);
  }
}

/**
 * The provider of a metric of our own class. prom-client's registry is process-wide: a second
 * app in the same process (tests) reuses the metric the first one registered.
 */
function registeredOnce<T extends Metric>(name: string, create: () => T): Provider {
  return {
    provide: getToken(name),
    useFactory: (): T => (register.getSingleMetric(name) as T | undefined) ?? create(),
  };
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const metricProviders = [
  makeGaugeProvider({
    name: METRIC.wsConnections,
    help: 'Active WebSocket (socket.io) connections on this node',
  }),
  makeCounterProvider({ name: METRIC.messagesSent, help: 'Messages stored and acknowledged' }),
  registeredOnce(
    METRIC.sendLatencySummary,
    () =>
      new WindowedSummary({
        name: METRIC.sendLatencySummary,
        help: 'Message send latency from receipt to ack, in seconds (quantiles over the last 10 minutes)',
        percentiles: [0.5, 0.9, 0.99],
        maxAgeSeconds: 600,
        ageBuckets: 5,
      }),
  ),
  registeredOnce(
    METRIC.sendLatencyHistogram,
    () =>
      new CountingHistogram({
        name: METRIC.sendLatencyHistogram,
        help: 'Message send latency from receipt to ack, in seconds (aggregatable across nodes)',
        buckets: LATENCY_BUCKETS,
      }),
  ),
  makeCounterProvider({
    name: METRIC.rateLimitHits,
    help: 'Requests or events refused by a rate limit',
    labelNames: ['transport'],
  }),
];

@Global()
@Module({
  imports: [
    PrometheusModule.register({
      path: '/metrics',
      controller: MetricsController,
      defaultMetrics: { enabled: false },
    }),
  ],
  providers: metricProviders,
  exports: metricProviders,
})
export class MetricsModule implements OnModuleInit {
  onModuleInit(): void {
    // prom-client's registry is process-wide: register the default metrics once per process.
    if (register.getSingleMetric('process_cpu_user_seconds_total')) return;
    collectDefaultMetrics({ eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    reportLagBeyondInterval(register, EVENT_LOOP_SAMPLE_MS);
  }
}

/**
 * How often the event-loop delay histogram (`nodejs_eventloop_lag_p99_seconds` and friends)
 * samples. prom-client's default, 10 ms, is a timer that wakes an idle hub 100 times a second:
 * on a VM that was a fifth of the hub's wake-ups at 200 msg/s and 8 ms of CPU a second while
 * idle. Node records the time between two samples; the gauges report that minus this interval,
 * i.e. the lag (reportLagBeyondInterval). A stall of S reads between S minus the interval and S.
 */
const EVENT_LOOP_SAMPLE_MS = 100;
