import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram, Summary } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

/** messages_sent_total and both latency forms, measured from receipt to ack. */
@Injectable()
export class MessageMetrics {
  constructor(
    @InjectMetric(METRIC.messagesSent) private readonly count: Counter,
    @InjectMetric(METRIC.sendLatencySummary) private readonly summary: Summary,
    @InjectMetric(METRIC.sendLatencyHistogram) private readonly histogram: Histogram,
  ) {}

  /** `startedAt`: performance.now() when the send was received. */
  sent(startedAt: number): void {
    const seconds = (performance.now() - startedAt) / 1000;
    this.count.inc();
    this.summary.observe(seconds);
    this.histogram.observe(seconds);
  }
}
