/**
 * The ingest stage's settings: the topics it consumes and publishes, batching into ClickHouse, what
 * one event and one request may be, and the HTTP door's per-tenant budgets.
 */

import type { Env } from '../platform/env.ts';
import { readTable, setting, type ValuesOf } from '../platform/settings.ts';
import { IP_INTEL_SETTINGS } from './ipintel/settings.ts';
import { type ProducerBinding, parseProducerTopics } from './pipeline/producer-topics.ts';
import { MIN_RELAY_SECRET_LENGTH } from './pipeline/reporter-headers.ts';

export const INGEST_KAFKA_SETTINGS = {
  groupId: setting.str(
    'TOKENWATCH_KAFKA_GROUP_ID',
    'tokenwatch-ingest',
    'consumer group of the ingest when the detectors are off (with them on, one consumer reads every topic once in the detectors’ group, and this group’s offsets are read only on the upgrade: [one read](detection.md#one-read-of-the-events-topics))',
  ),
  topics: setting.list('TOKENWATCH_KAFKA_TOPICS', ['tokenwatch.events'], 'topics consumed (comma-separated)'),
  publishTopic: setting.str(
    'TOKENWATCH_KAFKA_PUBLISH_TOPIC',
    (env) => env['TOKENWATCH_KAFKA_TOPICS']?.split(',')[0]?.trim() || 'tokenwatch.events',
    'where HTTP events are published in Kafka mode',
    { shows: 'first of the topics' },
  ),
  deadLetterTopic: setting.str(
    'TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC',
    'tokenwatch.events.dlq',
    'dead letters, as JSON',
  ),
  producerTopics: setting.list(
    'TOKENWATCH_KAFKA_PRODUCER_TOPICS',
    [],
    'producers bound to a tenant and role: `topic=tenant:role,…` (role `verifier` or `auth-server`). Each producer writes to its own topic (its write ACL is its identity); the ingest consumes these topics, refuses per event what names another tenant (`tenant_mismatch`) or is outside the role (`outside_role`), and relays the rest to the events topic as reported by `topic:<name>` ([contract](contract.md#kafka-producers))',
  ),
  relaySecret: setting.secret(
    'TOKENWATCH_RELAY_SECRET',
    `HMAC key (at least ${MIN_RELAY_SECRET_LENGTH} characters, the same on every instance) signing the reporter headers tokenwatch relays to Kafka; with it set, reporter headers without a valid signature are refused (\`unverified_reporter\`), so no producer can name its own reporter. Unset: headers are believed as written (a start-up warning)`,
  ),
  requireReporter: setting.bool(
    'TOKENWATCH_KAFKA_REQUIRE_REPORTER',
    false,
    'with `TOKENWATCH_RELAY_SECRET` set: also refuse (`unverified_reporter`) messages on the shared events topic that name no reporter — legacy producers writing there themselves; turn on once every producer writes to its bound topic',
  ),
};

export const BATCH_SETTINGS = {
  maxRows: setting.int(
    'TOKENWATCH_BATCH_MAX_ROWS',
    10_000,
    1,
    1_000_000,
    'rows per ClickHouse insert: a full batch is inserted at once',
  ),
  maxWaitMs: setting.int(
    'TOKENWATCH_BATCH_MAX_WAIT_MS',
    1000,
    1,
    600_000,
    'the longest a row waits for its batch',
  ),
  bufferMaxRows: setting.int(
    'TOKENWATCH_BUFFER_MAX_ROWS',
    100_000,
    1,
    10_000_000,
    'rows buffered for ClickHouse at most (memory bound); past it Kafka pauses and HTTP answers 503',
  ),
  retryMaxBackoffMs: setting.int(
    'TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS',
    10_000,
    10,
    600_000,
    'cap of the exponential backoff between insert retries',
  ),
  urgentLingerMs: setting.int(
    'TOKENWATCH_HTTP_ACK_LINGER_MS',
    100,
    0,
    600_000,
    'single-process mode: how long a batch waits for company once an HTTP request waits for it (with a tenth of a batch queued it goes at once)',
  ),
  tenantShare: setting.custom(
    'TOKENWATCH_BUFFER_TENANT_SHARE_PERCENT',
    '`50`',
    'the share of `TOKENWATCH_BUFFER_MAX_ROWS` one tenant’s requests may hold, in percent (503 for that tenant past it)',
    (env, problems) =>
      setting.int('TOKENWATCH_BUFFER_TENANT_SHARE_PERCENT', 50, 1, 100, '').read(env, problems) / 100,
  ),
};

export const LIMITS_SETTINGS = {
  httpBodyBytes: setting.int(
    'TOKENWATCH_HTTP_BODY_LIMIT_BYTES',
    16 * 1024 * 1024,
    1024,
    Number.MAX_SAFE_INTEGER,
    'request body limit, also after gzip or zstd decompression',
  ),
  httpAckTimeoutMs: setting.int(
    'TOKENWATCH_HTTP_ACK_TIMEOUT_MS',
    10_000,
    100,
    Number.MAX_SAFE_INTEGER,
    'single-process mode: answer 503 if the rows are not stored by then (they stay queued)',
  ),
  eventBytes: setting.int(
    'TOKENWATCH_EVENT_MAX_BYTES',
    16 * 1024,
    256,
    Number.MAX_SAFE_INTEGER,
    'largest accepted event',
  ),
  eventMaxDepth: setting.int(
    'TOKENWATCH_EVENT_MAX_DEPTH',
    32,
    2,
    1000,
    'deepest nesting of objects and arrays in an event',
  ),
  maxEventAgeSeconds: setting.int(
    'TOKENWATCH_MAX_EVENT_AGE_SECONDS',
    7 * 24 * 3600,
    1,
    Number.MAX_SAFE_INTEGER,
    'oldest accepted event time (7 days)',
  ),
  maxFutureSkewSeconds: setting.int(
    'TOKENWATCH_MAX_FUTURE_SKEW_SECONDS',
    300,
    0,
    Number.MAX_SAFE_INTEGER,
    'how far in the future an event time may be',
  ),
  deadLetterPayloadBytes: setting.int(
    'TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES',
    4096,
    64,
    1024 * 1024,
    'dead-letter payloads are truncated to this',
  ),
};

export const DOOR_SETTINGS = {
  maxEventsPerRequest: setting.int(
    'TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST',
    10_000,
    1,
    1_000_000,
    'events one request may hold (413 past it)',
  ),
  requestsPerSecondPerKey: setting.int(
    'TOKENWATCH_HTTP_REQUESTS_PER_SECOND_PER_KEY',
    1000,
    0,
    1_000_000,
    'requests per second per API key, unknown keys per client address (429 past it; 0: unlimited)',
  ),
  tenantEventsPerSecond: setting.int(
    'TOKENWATCH_TENANT_EVENTS_PER_SECOND',
    50_000,
    0,
    100_000_000,
    'events per second per tenant at the HTTP door (429 past it; 0: unlimited)',
  ),
  tenantBytesPerSecond: setting.int(
    'TOKENWATCH_TENANT_BYTES_PER_SECOND',
    64 * 1024 * 1024,
    0,
    Number.MAX_SAFE_INTEGER,
    'decompressed body bytes per second per tenant (429 past it; 0: unlimited)',
  ),
  tenantBurstSeconds: setting.int(
    'TOKENWATCH_TENANT_BURST_SECONDS',
    2,
    1,
    3600,
    'how many seconds of a tenant’s budget one burst may take (the bucket holds at least one full request)',
  ),
  maxInflating: setting.int(
    'TOKENWATCH_HTTP_MAX_INFLATING',
    4,
    1,
    1000,
    'gzip or zstd bodies inflated at once (503 past it)',
  ),
  maxEventLoopDelayMs: setting.int(
    'TOKENWATCH_HTTP_MAX_EVENT_LOOP_DELAY_MS',
    1000,
    0,
    600_000,
    'ingest answers 503 while the event loop lags more than this (0: never)',
  ),
};

export interface IngestSettings {
  kafka: ValuesOf<typeof INGEST_KAFKA_SETTINGS> & {
    /** TOKENWATCH_KAFKA_PRODUCER_TOPICS, by topic */
    bindings: Map<string, ProducerBinding>;
  };
  batch: ValuesOf<typeof BATCH_SETTINGS>;
  limits: ValuesOf<typeof LIMITS_SETTINGS>;
  /** the HTTP door's bounds */
  door: ValuesOf<typeof DOOR_SETTINGS>;
  /** the operator's IP intelligence files (none: geoip-lite's bundled data) */
  ipIntel: ValuesOf<typeof IP_INTEL_SETTINGS>;
}

function readKafka(env: Env, problems: string[]): IngestSettings['kafka'] {
  const k = readTable(INGEST_KAFKA_SETTINGS, env, problems);
  const bindings = parseProducerTopics(k.producerTopics, [...k.topics, k.publishTopic], problems);
  if (k.relaySecret !== '' && k.relaySecret.length < MIN_RELAY_SECRET_LENGTH)
    problems.push(
      `TOKENWATCH_RELAY_SECRET must be at least ${MIN_RELAY_SECRET_LENGTH} characters (got ${k.relaySecret.length}): use a random string, e.g. \`openssl rand -base64 32\`, the same on every instance`,
    );
  if (k.requireReporter && k.relaySecret === '')
    problems.push(
      'TOKENWATCH_KAFKA_REQUIRE_REPORTER needs TOKENWATCH_RELAY_SECRET: without it no reporter header can be told from a forged one',
    );
  return { ...k, bindings };
}

/** Reads the ingest settings; problems are pushed onto `problems`. */
export function readIngestSettings(env: Env, problems: string[]): IngestSettings {
  const s: IngestSettings = {
    kafka: readKafka(env, problems),
    batch: readTable(BATCH_SETTINGS, env, problems),
    limits: readTable(LIMITS_SETTINGS, env, problems),
    door: readTable(DOOR_SETTINGS, env, problems),
    ipIntel: readTable(IP_INTEL_SETTINGS, env, problems),
  };
  if (s.kafka.topics.length === 0) problems.push('TOKENWATCH_KAFKA_TOPICS must name at least one topic');
  if (s.batch.bufferMaxRows < s.batch.maxRows)
    problems.push(
      `TOKENWATCH_BUFFER_MAX_ROWS (${s.batch.bufferMaxRows}) must be at least TOKENWATCH_BATCH_MAX_ROWS (${s.batch.maxRows})`,
    );
  return s;
}
