/** Prometheus metrics of the ingest service (prom-client), on a registry of its own. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tokenwatch_' });
  return {
    registry,
    events: new Counter({
      name: 'tokenwatch_events_total',
      help: 'Events stored, by type, outcome and reason',
      labelNames: ['type', 'outcome', 'reason'] as const,
      registers: [registry],
    }),
    rejects: new Counter({
      name: 'tokenwatch_events_rejected_total',
      help: 'Events rejected and dead-lettered, by class (reject code) and door (http, kafka)',
      labelNames: ['class', 'door'] as const,
      registers: [registry],
    }),
    received: new Counter({
      name: 'tokenwatch_events_received_total',
      help: 'Events received before validation, by door',
      labelNames: ['door'] as const,
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: 'tokenwatch_insert_batch_rows',
      help: 'Rows per ClickHouse insert',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000],
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'tokenwatch_insert_duration_seconds',
      help: 'ClickHouse insert latency (successful inserts)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    insertFailures: new Counter({
      name: 'tokenwatch_insert_failures_total',
      help: 'Failed ClickHouse insert attempts (each is retried)',
      registers: [registry],
    }),
    bufferRows: new Gauge({
      name: 'tokenwatch_buffer_rows',
      help: 'Rows waiting in the insert buffer',
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'tokenwatch_kafka_consumer_lag',
      help: 'Messages between the last fetched offset and the high watermark, per topic partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    httpBusy: new Counter({
      name: 'tokenwatch_http_busy_total',
      help: 'HTTP ingest requests answered 503 because the buffer was full',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
