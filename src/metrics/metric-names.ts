/** The runbook's metric names ("Key Metrics"); alerts depend on them, so they never change. */
export const METRIC = {
  wsConnections: 'ws_connections',
  messagesSent: 'messages_sent_total',
  sendLatencySummary: 'message_send_latency',
  sendLatencyHistogram: 'message_send_latency_seconds',
  rateLimitHits: 'rate_limit_hits_total',
} as const;
