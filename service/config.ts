/**
 * The one place configuration is read: environment variables → a typed, validated Config.
 * Every option is documented in README.md ("Configuration") with its default.
 */

import { REGISTRY } from '../detectors/registry.ts';
import {
  type DetectorSettings,
  type DetectorSettingsFile,
  detectorSettings,
  readSettingsFile,
} from '../detectors/settings.ts';
import { type Env, envReader } from '../platform/env.ts';
import type { ApiKey } from '../platform/http/api-keys.ts';
import { LOG_LEVELS, type LogLevel } from '../platform/log.ts';
import { cidrList } from '../platform/net/network.ts';
import type { ResponsePolicy } from '../response/decide/policy.ts';
import {
  type ResponseSettingsFile,
  readResponseFile,
  responsePolicy,
  webhookEntries,
} from '../response/settings.ts';
import { parseWebhookTargets, type WebhookTarget } from '../response/webhooks/index.ts';

export type { ApiKey };

export interface Config {
  host: string;
  port: number;
  /** fastify trustProxy: which proxies' X-Forwarded-For to believe for the client address */
  trustProxy: boolean | string;
  logLevel: LogLevel;
  apiKeys: ApiKey[];
  /** keys for the read API (GET /v1/detections); tenant `*` reads every tenant */
  readApiKeys: ApiKey[];
  detect: {
    enabled: boolean;
    groupId: string;
    findingsTopic: string;
    /** cap on tracked tokens + families + sessions */
    maxKeys: number;
    /** on assignment, re-read this much of the topic besides ClickHouse (covers ingest lag) */
    rebuildOverlapSeconds: number;
    configFile: string;
    settings: DetectorSettings;
  };
  response: {
    /** the auth API's revocation endpoint ('' = none: revocations are recorded as dry_run) */
    revocationUrl: string;
    auth: { token: string; tokenUrl: string; clientId: string; clientSecret: string; scope: string };
    timeoutMs: number;
    retry: { baseMs: number; maxMs: number; giveUpAfterMs: number };
    breaker: { failureThreshold: number; cooldownMs: number };
    guard: { perTenantPerMinute: number; totalPerMinute: number };
    policy: ResponsePolicy;
    revocationsTopic: string;
    /** where alerts link to (this service's public base URL; '' = no links) */
    publicUrl: string;
    configFile: string;
    webhooks: {
      targets: WebhookTarget[];
      groupWaitMs: number;
      groupIntervalMs: number;
      timeoutMs: number;
      allowedCidrs: string[];
    };
  };
  clickhouse: {
    url: string;
    user: string;
    password: string;
    database: string;
    /** empty: single server; otherwise DDL runs ON CLUSTER with replicated engines */
    cluster: string;
    retentionDays: number;
    migrateOnStart: boolean;
    requestTimeoutMs: number;
  };
  kafka: {
    /** empty: single-process mode (HTTP events go straight to the pipeline) */
    brokers: string[];
    clientId: string;
    groupId: string;
    topics: string[];
    publishTopic: string;
    deadLetterTopic: string;
    topicPartitions: number;
    sessionTimeoutMs: number;
  };
  batch: {
    maxRows: number;
    maxWaitMs: number;
    bufferMaxRows: number;
    retryMaxBackoffMs: number;
    urgentLingerMs: number;
    /** the share of bufferMaxRows one tenant's HTTP requests may hold */
    tenantShare: number;
  };
  /** the HTTP server: bounds per request, per key and per tenant, timeouts, where /metrics is served */
  http: {
    maxEventsPerRequest: number;
    requestsPerSecondPerKey: number;
    tenantEventsPerSecond: number;
    tenantBytesPerSecond: number;
    tenantBurstSeconds: number;
    maxInflating: number;
    requestTimeoutMs: number;
    connectionTimeoutMs: number;
    keepAliveTimeoutMs: number;
    shutdownGraceMs: number;
    maxEventLoopDelayMs: number;
    /** bearer key /metrics requires ('' = none) */
    metricsKey: string;
    /** 0: /metrics on the main listener; else a listener of its own on metricsHost:metricsPort */
    metricsPort: number;
    metricsHost: string;
    /** /readyz fails while a row has waited longer than this to be stored */
    readyMaxBacklogMs: number;
  };
  limits: {
    httpBodyBytes: number;
    httpAckTimeoutMs: number;
    eventBytes: number;
    eventMaxDepth: number;
    maxEventAgeSeconds: number;
    maxFutureSkewSeconds: number;
    deadLetterPayloadBytes: number;
  };
}

export class ConfigError extends Error {
  readonly code = 'ERR_TOKENWATCH_CONFIG';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function parseTrustProxy(raw: string): boolean | string {
  if (raw === 'true') return true;
  if (raw === 'false' || raw === '') return false;
  return raw; // a comma-separated list of addresses/CIDRs, as fastify takes it
}

/** Reads and validates the configuration; throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const { problems, str, int, bool, list } = envReader(env);

  const logLevel = str('TOKENWATCH_LOG_LEVEL', 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`TOKENWATCH_LOG_LEVEL=${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const keys = (name: string): ApiKey[] => {
    const parsed: ApiKey[] = [];
    for (const entry of list(name, '')) {
      const sep = entry.indexOf(':');
      const tenant = entry.slice(0, sep);
      const key = entry.slice(sep + 1);
      if (sep <= 0 || key.length < 16) {
        problems.push(
          `${name} entries must be tenant:key with a key of at least 16 characters ` +
            `(got an entry for ${JSON.stringify(sep > 0 ? tenant : '(no tenant)')})`,
        );
        continue;
      }
      parsed.push({ tenant, key });
    }
    return parsed;
  };
  const apiKeys = keys('TOKENWATCH_API_KEYS');
  const readApiKeys = keys('TOKENWATCH_READ_API_KEYS');

  const detectConfigFile = str('TOKENWATCH_DETECT_CONFIG', '');
  let settingsFile: DetectorSettingsFile = {};
  if (detectConfigFile !== '') {
    try {
      settingsFile = readSettingsFile(detectConfigFile);
    } catch (err) {
      problems.push(`TOKENWATCH_DETECT_CONFIG: ${(err as Error).message}`);
    }
  }
  const dryRun: string[] = [];
  for (const name of list('TOKENWATCH_DETECT_DRY_RUN', '')) {
    if (REGISTRY.has(name)) dryRun.push(name);
    else
      problems.push(
        `TOKENWATCH_DETECT_DRY_RUN entry ${JSON.stringify(name)} is not a detector (${REGISTRY.names.join(', ')})`,
      );
  }
  const allowlist = list('TOKENWATCH_DETECT_ALLOWLIST', '');
  try {
    cidrList(allowlist);
  } catch (err) {
    problems.push(`TOKENWATCH_DETECT_ALLOWLIST: ${(err as Error).message}`);
  }
  // Set: overrides the settings file's grace window; unset: the file's (or the default) stands.
  const graceSet = str('TOKENWATCH_DETECT_GRACE_WINDOW_MS', '') !== '';
  const grace = int('TOKENWATCH_DETECT_GRACE_WINDOW_MS', 0, 0, 3_600_000);
  const detectOverrides = {
    ...(graceSet ? { graceWindowMs: grace } : {}),
    ...(allowlist.length > 0 ? { allowlistCidrs: allowlist } : {}),
  };

  const responseFile = str('TOKENWATCH_RESPONSE_CONFIG', '');
  let responseSettings: ResponseSettingsFile = {};
  if (responseFile !== '') {
    try {
      responseSettings = readResponseFile(responseFile);
    } catch (err) {
      problems.push(`TOKENWATCH_RESPONSE_CONFIG: ${(err as Error).message}`);
    }
  }
  const responseDryRun: string[] = [];
  for (const name of list('TOKENWATCH_RESPONSE_DRY_RUN', '')) {
    if (REGISTRY.has(name)) responseDryRun.push(name);
    else problems.push(`TOKENWATCH_RESPONSE_DRY_RUN entry ${JSON.stringify(name)} is not a detector`);
  }
  const revocationUrl = str('TOKENWATCH_AUTH_REVOKE_URL', '');
  const authToken = str('TOKENWATCH_AUTH_TOKEN', '');
  const tokenUrl = str('TOKENWATCH_AUTH_TOKEN_URL', '');
  const clientId = str('TOKENWATCH_AUTH_CLIENT_ID', '');
  const clientSecret = env['TOKENWATCH_AUTH_CLIENT_SECRET'] ?? '';
  for (const [name, value] of [
    ['TOKENWATCH_AUTH_REVOKE_URL', revocationUrl],
    ['TOKENWATCH_AUTH_TOKEN_URL', tokenUrl],
    ['TOKENWATCH_PUBLIC_URL', str('TOKENWATCH_PUBLIC_URL', '')],
  ] as const) {
    if (value !== '' && !/^https?:\/\/[^/]+/.test(value))
      problems.push(`${name}=${JSON.stringify(value)} must be an http(s) URL`);
  }
  if (revocationUrl !== '' && authToken === '' && tokenUrl === '')
    problems.push(
      'TOKENWATCH_AUTH_REVOKE_URL is set but no credentials: set TOKENWATCH_AUTH_TOKEN (a static bearer token) ' +
        'or TOKENWATCH_AUTH_TOKEN_URL with TOKENWATCH_AUTH_CLIENT_ID and TOKENWATCH_AUTH_CLIENT_SECRET (client credentials)',
    );
  if (tokenUrl !== '' && (clientId === '' || clientSecret === ''))
    problems.push(
      'TOKENWATCH_AUTH_TOKEN_URL needs TOKENWATCH_AUTH_CLIENT_ID and TOKENWATCH_AUTH_CLIENT_SECRET',
    );
  const webhookAllowed = list('TOKENWATCH_WEBHOOK_ALLOWED_CIDRS', '');
  try {
    cidrList(webhookAllowed);
  } catch (err) {
    problems.push(`TOKENWATCH_WEBHOOK_ALLOWED_CIDRS: ${(err as Error).message}`);
  }
  const hooks = webhookEntries(responseSettings, env);
  problems.push(...hooks.problems.map((p) => `TOKENWATCH_RESPONSE_CONFIG ${p}`));
  const envWebhook = str('TOKENWATCH_WEBHOOK_URL', '');
  if (envWebhook !== '')
    hooks.entries.push({
      name: 'env',
      url: envWebhook,
      format: str('TOKENWATCH_WEBHOOK_FORMAT', 'generic'),
      secret: env['TOKENWATCH_WEBHOOK_SECRET'] ?? '',
      minSeverity: str('TOKENWATCH_WEBHOOK_MIN_SEVERITY', 'medium'),
    });
  let webhookTargets: WebhookTarget[] = [];
  try {
    webhookTargets = parseWebhookTargets(
      hooks.entries,
      'TOKENWATCH_RESPONSE_CONFIG webhooks / TOKENWATCH_WEBHOOK_URL',
    );
  } catch (err) {
    problems.push((err as Error).message);
  }

  const chUrl = str('TOKENWATCH_CLICKHOUSE_URL', 'http://127.0.0.1:8123');
  if (!/^https?:\/\/[^/]+/.test(chUrl)) {
    problems.push(`TOKENWATCH_CLICKHOUSE_URL=${JSON.stringify(chUrl)} must be an http(s) URL`);
  }
  const database = str('TOKENWATCH_CLICKHOUSE_DATABASE', 'tokenwatch');
  const cluster = str('TOKENWATCH_CLICKHOUSE_CLUSTER', '');
  for (const [name, value] of [
    ['TOKENWATCH_CLICKHOUSE_DATABASE', database],
    ['TOKENWATCH_CLICKHOUSE_CLUSTER', cluster],
  ] as const) {
    if (value !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
      problems.push(`${name}=${JSON.stringify(value)} must be a plain identifier (letters, digits, _)`);
    }
  }

  const brokers = list('TOKENWATCH_KAFKA_BROKERS', '');
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b))
      problems.push(`TOKENWATCH_KAFKA_BROKERS entry ${JSON.stringify(b)} must be host:port`);
  }
  const topics = list('TOKENWATCH_KAFKA_TOPICS', 'tokenwatch.events');
  if (topics.length === 0) problems.push('TOKENWATCH_KAFKA_TOPICS must name at least one topic');

  const config: Config = {
    host: str('TOKENWATCH_HOST', '0.0.0.0'),
    port: int('TOKENWATCH_PORT', 8080, 0, 65535),
    trustProxy: parseTrustProxy(str('TOKENWATCH_TRUST_PROXY', 'false')),
    logLevel,
    apiKeys,
    readApiKeys,
    detect: {
      enabled: bool('TOKENWATCH_DETECT', true),
      groupId: str('TOKENWATCH_DETECT_GROUP_ID', 'tokenwatch-detectors'),
      findingsTopic: str('TOKENWATCH_KAFKA_FINDINGS_TOPIC', 'tokenwatch.findings'),
      maxKeys: int('TOKENWATCH_DETECT_MAX_KEYS', 2_000_000, 1000),
      rebuildOverlapSeconds: int('TOKENWATCH_DETECT_REBUILD_OVERLAP_SECONDS', 300, 0, 86_400),
      configFile: detectConfigFile,
      settings: detectorSettings(settingsFile, detectOverrides, dryRun),
    },
    response: {
      revocationUrl,
      auth: {
        token: authToken,
        tokenUrl,
        clientId,
        clientSecret,
        scope: str('TOKENWATCH_AUTH_SCOPE', 'revoke'),
      },
      timeoutMs: int('TOKENWATCH_AUTH_TIMEOUT_MS', 2000, 50, 600_000),
      retry: {
        baseMs: int('TOKENWATCH_AUTH_RETRY_BASE_MS', 200, 1, 600_000),
        maxMs: int('TOKENWATCH_AUTH_RETRY_MAX_MS', 5000, 1, 3_600_000),
        giveUpAfterMs: int('TOKENWATCH_AUTH_GIVE_UP_SECONDS', 86_400, 1, 30 * 86_400) * 1000,
      },
      breaker: {
        failureThreshold: int('TOKENWATCH_AUTH_BREAKER_FAILURES', 5, 1, 1000),
        cooldownMs: int('TOKENWATCH_AUTH_BREAKER_COOLDOWN_MS', 5000, 10, 3_600_000),
      },
      guard: {
        perTenantPerMinute: int('TOKENWATCH_GUARD_TENANT_PER_MINUTE', 30, 0, 1_000_000),
        totalPerMinute: int('TOKENWATCH_GUARD_TOTAL_PER_MINUTE', 120, 0, 1_000_000),
      },
      policy: responsePolicy(responseSettings, responseDryRun),
      revocationsTopic: str('TOKENWATCH_KAFKA_REVOCATIONS_TOPIC', 'tokenwatch.revocations'),
      publicUrl: str('TOKENWATCH_PUBLIC_URL', ''),
      configFile: responseFile,
      webhooks: {
        targets: webhookTargets,
        groupWaitMs: int('TOKENWATCH_WEBHOOK_GROUP_WAIT_MS', 2000, 0, 3_600_000),
        groupIntervalMs: int('TOKENWATCH_WEBHOOK_GROUP_INTERVAL_MS', 60_000, 0, 86_400_000),
        timeoutMs: int('TOKENWATCH_WEBHOOK_TIMEOUT_MS', 5000, 50, 600_000),
        allowedCidrs: webhookAllowed,
      },
    },
    clickhouse: {
      url: chUrl,
      user: str('TOKENWATCH_CLICKHOUSE_USER', 'default'),
      password: env['TOKENWATCH_CLICKHOUSE_PASSWORD'] ?? '',
      database,
      cluster,
      retentionDays: int('TOKENWATCH_RETENTION_DAYS', 90, 1, 36500),
      migrateOnStart: bool('TOKENWATCH_MIGRATE_ON_START', true),
      requestTimeoutMs: int('TOKENWATCH_CLICKHOUSE_TIMEOUT_MS', 30_000, 100),
    },
    kafka: {
      brokers,
      clientId: str('TOKENWATCH_KAFKA_CLIENT_ID', 'tokenwatch'),
      groupId: str('TOKENWATCH_KAFKA_GROUP_ID', 'tokenwatch-ingest'),
      topics,
      publishTopic: str('TOKENWATCH_KAFKA_PUBLISH_TOPIC', topics[0] ?? 'tokenwatch.events'),
      deadLetterTopic: str('TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC', 'tokenwatch.events.dlq'),
      topicPartitions: int('TOKENWATCH_KAFKA_TOPIC_PARTITIONS', 6, 1, 10_000),
      sessionTimeoutMs: int('TOKENWATCH_KAFKA_SESSION_TIMEOUT_MS', 10_000, 6000, 300_000),
    },
    batch: {
      maxRows: int('TOKENWATCH_BATCH_MAX_ROWS', 10_000, 1, 1_000_000),
      maxWaitMs: int('TOKENWATCH_BATCH_MAX_WAIT_MS', 1000, 1, 600_000),
      bufferMaxRows: int('TOKENWATCH_BUFFER_MAX_ROWS', 100_000, 1, 10_000_000),
      retryMaxBackoffMs: int('TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS', 10_000, 10, 600_000),
      urgentLingerMs: int('TOKENWATCH_HTTP_ACK_LINGER_MS', 100, 0, 600_000),
      tenantShare: int('TOKENWATCH_BUFFER_TENANT_SHARE_PERCENT', 50, 1, 100) / 100,
    },
    http: {
      maxEventsPerRequest: int('TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST', 10_000, 1, 1_000_000),
      requestsPerSecondPerKey: int('TOKENWATCH_HTTP_REQUESTS_PER_SECOND_PER_KEY', 1000, 0, 1_000_000),
      tenantEventsPerSecond: int('TOKENWATCH_TENANT_EVENTS_PER_SECOND', 50_000, 0, 100_000_000),
      tenantBytesPerSecond: int('TOKENWATCH_TENANT_BYTES_PER_SECOND', 64 * 1024 * 1024, 0),
      tenantBurstSeconds: int('TOKENWATCH_TENANT_BURST_SECONDS', 2, 1, 3600),
      maxInflating: int('TOKENWATCH_HTTP_MAX_INFLATING', 4, 1, 1000),
      requestTimeoutMs: int('TOKENWATCH_HTTP_REQUEST_TIMEOUT_MS', 30_000, 1000, 3_600_000),
      connectionTimeoutMs: int('TOKENWATCH_HTTP_CONNECTION_TIMEOUT_MS', 60_000, 1000, 3_600_000),
      keepAliveTimeoutMs: int('TOKENWATCH_HTTP_KEEP_ALIVE_TIMEOUT_MS', 5000, 100, 3_600_000),
      shutdownGraceMs: int('TOKENWATCH_HTTP_SHUTDOWN_GRACE_MS', 5000, 0, 600_000),
      maxEventLoopDelayMs: int('TOKENWATCH_HTTP_MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 600_000),
      metricsKey: env['TOKENWATCH_METRICS_KEY']?.trim() ?? '',
      metricsPort: int('TOKENWATCH_METRICS_PORT', 0, 0, 65535),
      metricsHost: str('TOKENWATCH_METRICS_HOST', str('TOKENWATCH_HOST', '0.0.0.0')),
      readyMaxBacklogMs: int('TOKENWATCH_READY_MAX_BACKLOG_MS', 30_000, 1000, 86_400_000),
    },
    limits: {
      httpBodyBytes: int('TOKENWATCH_HTTP_BODY_LIMIT_BYTES', 16 * 1024 * 1024, 1024),
      httpAckTimeoutMs: int('TOKENWATCH_HTTP_ACK_TIMEOUT_MS', 10_000, 100),
      eventBytes: int('TOKENWATCH_EVENT_MAX_BYTES', 16 * 1024, 256),
      eventMaxDepth: int('TOKENWATCH_EVENT_MAX_DEPTH', 32, 2, 1000),
      maxEventAgeSeconds: int('TOKENWATCH_MAX_EVENT_AGE_SECONDS', 7 * 24 * 3600, 1),
      maxFutureSkewSeconds: int('TOKENWATCH_MAX_FUTURE_SKEW_SECONDS', 300, 0),
      deadLetterPayloadBytes: int('TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES', 4096, 64, 1024 * 1024),
    },
  };
  if (config.batch.bufferMaxRows < config.batch.maxRows) {
    problems.push(
      `TOKENWATCH_BUFFER_MAX_ROWS (${config.batch.bufferMaxRows}) must be at least TOKENWATCH_BATCH_MAX_ROWS (${config.batch.maxRows})`,
    );
  }
  if (config.http.metricsKey !== '' && config.http.metricsKey.length < 16)
    problems.push('TOKENWATCH_METRICS_KEY must be at least 16 characters (or empty: /metrics open)');
  if (config.http.metricsPort !== 0 && config.http.metricsPort === config.port)
    problems.push(
      `TOKENWATCH_METRICS_PORT (${config.http.metricsPort}) must differ from TOKENWATCH_PORT, or be 0 to serve /metrics on it`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
