/** Prometheus metrics of the ingest service (prom-client), on a registry of its own. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { startLoopMonitor } from '../platform/loop-monitor.ts';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tokenwatch_' });
  const loop = startLoopMonitor();
  return {
    registry,
    eventLoopBlocked: new Gauge({
      name: 'tokenwatch_event_loop_blocked_max_seconds',
      help: 'The longest the event loop was held by work since the last scrape: main-thread CPU time of the longest late 10 ms tick interval (unlike nodejs_eventloop_lag_max_seconds, time the operating system gave to other processes is not counted)',
      registers: [registry],
      collect() {
        this.set(loop.takeMaxBlockedMs() / 1000);
      },
    }),
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
    validated: new Counter({
      name: 'tokenwatch_events_validated_total',
      help: 'Event texts decoded and validated (each door, and the detectors’ address topic): in Kafka mode one per message read',
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
    apiKeysWithoutRole: new Gauge({
      name: 'tokenwatch_api_keys_without_role',
      help: 'TOKENWATCH_API_KEYS entries without a role (verifier / auth-server): they may report every event type',
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
    findings: new Counter({
      name: 'tokenwatch_findings_total',
      help: 'Findings reported by the detectors, by detector, severity and dry_run (true: reported, never acted on)',
      labelNames: ['detector', 'severity', 'dry_run'] as const,
      registers: [registry],
    }),
    detectionLatency: new Histogram({
      name: 'tokenwatch_detection_latency_seconds',
      help: 'From the event that completed the evidence (the misuse) to its finding, by detector',
      labelNames: ['detector'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    detectorEvents: new Counter({
      name: 'tokenwatch_detector_events_total',
      help: 'Events run through the detectors, by mode (live; warmup: rebuilding state, findings not reported)',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    revocationHits: new Counter({
      name: 'tokenwatch_revocation_hits_total',
      help: 'Revoked tokens presented again (verification or refresh rejected as revoked), by type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    stateSubjects: new Gauge({
      name: 'tokenwatch_detector_state_subjects',
      help: 'Tenant + subject keys with detector state',
      registers: [registry],
    }),
    stateKeys: new Gauge({
      name: 'tokenwatch_detector_state_keys',
      help: 'Tracked tokens, refresh families and sessions in detector state',
      registers: [registry],
    }),
    stateMaxKeys: new Gauge({
      name: 'tokenwatch_detector_state_max_keys',
      help: 'The cap on tracked keys (TOKENWATCH_DETECT_MAX_KEYS); past it the least recently seen subjects are evicted',
      registers: [registry],
    }),
    stateEvictions: new Counter({
      name: 'tokenwatch_detector_state_evicted_subjects_total',
      help: 'Subjects whose detector state was dropped to stay under the memory cap (detections for them may be missed)',
      registers: [registry],
    }),
    detectorFailures: new Counter({
      name: 'tokenwatch_detector_failures_total',
      help: 'Events the detectors failed on and skipped (a bug: see the log for the event id)',
      registers: [registry],
    }),
    rebuildSeconds: new Histogram({
      name: 'tokenwatch_detector_rebuild_duration_seconds',
      help: 'Time to rebuild detector state from ClickHouse (on start and on partition assignment)',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers: [registry],
    }),
    misrouted: new Counter({
      name: 'tokenwatch_misrouted_events_total',
      help: 'Events the detectors found on a partition their tenant:subject (address topic: tenant:ip) key does not put them on, by action (rerouted: published again with the right key; dead_lettered: a re-routed copy misplaced again) and cause (missing_key, wrong_key, other_partitioner)',
      labelNames: ['action', 'cause'] as const,
      registers: [registry],
    }),
    addressForwarded: new Counter({
      name: 'tokenwatch_detector_address_forwarded_total',
      help: 'Events re-keyed by tenant:ip onto the detectors’ address topic, for the owner of their address’s per-source-IP state',
      registers: [registry],
    }),
    addressEvents: new Counter({
      name: 'tokenwatch_detector_address_events_total',
      help: 'Events from the address topic run through the per-source-IP detectors, by mode (live; warmup: rebuilding state)',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    detectorLag: new Gauge({
      name: 'tokenwatch_detector_consumer_lag',
      help: 'Messages the detector consumer group is behind, per topic partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    detectionWriteFailures: new Counter({
      name: 'tokenwatch_detection_write_failures_total',
      help: 'Failed attempts to store or publish findings (each is retried)',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    rowsRefused: new Counter({
      name: 'tokenwatch_rows_refused_total',
      help: 'Rows ClickHouse refused at insert (their values), by table; each is stored as a dead letter (code insert_rejected) and the rest of its batch is stored',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    rowsDropped: new Counter({
      name: 'tokenwatch_rows_dropped_total',
      help: 'Rows dropped because ClickHouse refused even their bare dead letter, by table (should stay 0; see the log)',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    httpRefused: new Counter({
      name: 'tokenwatch_http_refused_total',
      help: 'HTTP ingest requests refused whole to keep tenants apart, by reason (rate_limited: requests per key; events_quota, bytes_quota: per tenant; too_many_events: per request; inflating: gzip bodies at once; under_pressure: event loop or memory)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    httpBusy: new Counter({
      name: 'tokenwatch_http_busy_total',
      help: 'HTTP ingest requests answered 503 because the buffer was full',
      registers: [registry],
    }),
    responseDecisions: new Counter({
      name: 'tokenwatch_response_decisions_total',
      help: 'What the response stage decided per detection: revoke, dry_run, suppressed (blast-radius guard), alert_only, duplicate',
      labelNames: ['detector', 'decision'] as const,
      registers: [registry],
    }),
    revocationAttempts: new Counter({
      name: 'tokenwatch_revocation_attempts_total',
      help: 'Calls to the auth API revocation endpoint, by target and outcome (done, not_found, failed, retrying)',
      labelNames: ['target', 'outcome'] as const,
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'tokenwatch_revocations_total',
      help: 'Revocations finished, by target and final status (done, not_found, failed, denylist_only: the auth server cannot revoke it, only verifiers’ denylists stop it)',
      labelNames: ['target', 'status'] as const,
      registers: [registry],
    }),
    revocationCallSeconds: new Histogram({
      name: 'tokenwatch_revocation_call_duration_seconds',
      help: 'Latency of one call to the auth API revocation endpoint',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    timeToRevoke: new Histogram({
      name: 'tokenwatch_time_to_revoke_seconds',
      help: 'From the misuse event (event time) to the auth API acknowledging the revocation',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
    revocationsOpen: new Gauge({
      name: 'tokenwatch_revocations_open',
      help: 'Revocations decided and not yet acknowledged by the auth API (the outbox)',
      registers: [registry],
    }),
    authApiBreakerOpen: new Gauge({
      name: 'tokenwatch_auth_api_breaker_open',
      help: '1 while the circuit breaker to the auth API is open (calls held back)',
      registers: [registry],
    }),
    guardSuppressed: new Counter({
      name: 'tokenwatch_guard_suppressed_total',
      help: 'Revocations the blast-radius guard turned into alerts, by the limit that held (tenant, total; unavailable: the shared guard gave no verdict in time)',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    guardRetries: new Counter({
      name: 'tokenwatch_guard_retries_total',
      help: 'Suppressed revocations tried again when the guard had room, by outcome (revoked: revoked late; refused: still no room; held: another detection revokes the target; expired: past TOKENWATCH_GUARD_RETRY_SUPPRESSED_MS; dropped: past the queue’s cap)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    guardTrips: new Counter({
      name: 'tokenwatch_guard_trips_total',
      help: 'Times a blast-radius guard limit started refusing revocations (each pages once)',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    guardTripped: new Gauge({
      name: 'tokenwatch_guard_tripped',
      help: 'Guard scopes that refused a revocation in the last minute, by any instance sharing the guard (tenant: number of tenants; total: 0/1; unavailable: 1 while this instance gets no verdicts from the shared guard)',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    guardClaimSeconds: new Histogram({
      name: 'tokenwatch_guard_claim_seconds',
      help: 'Kafka mode: from writing claims to the shared guard’s topic to having their verdicts back (what the shared guard adds to the time to revoke)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'tokenwatch_webhook_deliveries_total',
      help: 'Alert webhook delivery attempts, by target and status (delivered, retrying, failed)',
      labelNames: ['target', 'status'] as const,
      registers: [registry],
    }),
    revocationHooksPublished: new Counter({
      name: 'tokenwatch_revocation_hooks_published_total',
      help: 'Revocation notices published, by sink (revocation_notices: the ClickHouse table GET /v1/revocations serves; revocation_hooks: the Kafka topic) and target',
      labelNames: ['sink', 'target'] as const,
      registers: [registry],
    }),
    responseWriteFailures: new Counter({
      name: 'tokenwatch_response_write_failures_total',
      help: 'Failed attempts to store response records or publish revocation notices (each is retried), by sink: revocations, webhook_deliveries, revocation_notices (ClickHouse), revocation_hooks (Kafka)',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
