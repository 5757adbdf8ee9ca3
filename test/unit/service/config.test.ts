import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTRY } from '../../../detectors/registry.ts';
import { DEFAULT_POLICY } from '../../../response/decide/policy.ts';
import { type Config, ConfigError, loadConfig } from '../../../service/config.ts';

const settingsFile = join(mkdtempSync(join(tmpdir(), 'tokenwatch-config-')), 'detectors.json');
writeFileSync(
  settingsFile,
  JSON.stringify({
    thresholds: { maxSpeedKmh: 900, allowlistCidrs: ['10.9.0.0/16'] },
    tenants: { acme: { minDistanceKm: 500 } },
    dryRun: ['verification_anomaly'],
  }),
);

const responseFile = join(mkdtempSync(join(tmpdir(), 'tokenwatch-config-')), 'response.json');
writeFileSync(
  responseFile,
  JSON.stringify({
    policy: { impossible_travel: { target: 'session', minSeverity: 'critical' } },
    webhooks: [
      { name: 'oncall', url: 'https://hooks.example/x', format: 'slack', secretEnv: 'ONCALL_SECRET' },
    ],
  }),
);

const KEY = '0123456789abcdef';

/** The ConfigError loadConfig throws for `env`; fails the test when it does not throw one. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('has the documented default for every option', () => {
    const expected: Config = {
      service: {
        host: '0.0.0.0',
        port: 8080,
        trustProxy: false,
        logLevel: 'info',
        apiKeys: [],
        readApiKeys: [],
        denylistApiKeys: [],
        requestTimeoutMs: 30_000,
        connectionTimeoutMs: 60_000,
        keepAliveTimeoutMs: 5000,
        shutdownGraceMs: 5000,
        metricsKey: '',
        metricsPort: 0,
        metricsHost: '0.0.0.0',
        readyMaxBacklogMs: 30_000,
      },
      clickhouse: {
        url: 'http://127.0.0.1:8123',
        user: 'default',
        password: '',
        database: 'tokenwatch',
        cluster: '',
        retentionDays: 90,
        migrateOnStart: true,
        requestTimeoutMs: 30_000,
      },
      kafka: {
        brokers: [],
        clientId: 'tokenwatch',
        topicPartitions: 6,
        compression: 'none',
        sessionTimeoutMs: 10_000,
      },
      ingest: {
        kafka: {
          groupId: 'tokenwatch-ingest',
          topics: ['tokenwatch.events'],
          publishTopic: 'tokenwatch.events',
          deadLetterTopic: 'tokenwatch.events.dlq',
          producerTopics: [],
          relaySecret: '',
          requireReporter: false,
          bindings: new Map(),
        },
        batch: {
          maxRows: 10_000,
          maxWaitMs: 1000,
          bufferMaxRows: 100_000,
          retryMaxBackoffMs: 10_000,
          urgentLingerMs: 100,
          tenantShare: 0.5,
        },
        limits: {
          httpBodyBytes: 16 * 1024 * 1024,
          httpAckTimeoutMs: 10_000,
          eventBytes: 16 * 1024,
          eventMaxDepth: 32,
          maxEventAgeSeconds: 604_800,
          maxFutureSkewSeconds: 300,
          deadLetterPayloadBytes: 4096,
        },
        door: {
          maxEventsPerRequest: 10_000,
          requestsPerSecondPerKey: 1000,
          tenantEventsPerSecond: 50_000,
          tenantBytesPerSecond: 64 * 1024 * 1024,
          tenantBurstSeconds: 2,
          maxInflating: 4,
          maxEventLoopDelayMs: 1000,
        },
        ipIntel: {
          cityDb: '',
          asnDb: '',
          anonymousDb: '',
          connectionTypeDb: '',
          networkKindsFile: '',
          unknownRadiusKm: 100,
          pollSeconds: 60,
        },
      },
      detect: {
        enabled: true,
        groupId: 'tokenwatch-detectors',
        findingsTopic: 'tokenwatch.findings',
        addressTopic: 'tokenwatch-detectors.by-address',
        maxKeys: 2_000_000,
        rebuildOverlapSeconds: 300,
        configFile: '',
        settings: expect.any(Object),
      },
      response: {
        adapter: 'contract',
        keycloak: {
          url: '',
          realm: '',
          clientId: 'tokenwatch',
          clientSecret: '',
          timeoutMs: 5000,
          familyMode: 'session',
        },
        revocationUrl: '',
        auth: { token: '', tokenUrl: '', clientId: '', clientSecret: '', scope: 'revoke' },
        timeoutMs: 2000,
        retry: { baseMs: 200, maxMs: 5000, giveUpAfterMs: 86_400_000 },
        breaker: { failureThreshold: 5, cooldownMs: 5000 },
        guard: {
          perTenantPerMinute: 30,
          totalPerMinute: 120,
          reservedPerTenant: 3,
          windowMs: 60_000,
          retrySuppressedMs: 3_600_000,
          topic: 'tokenwatch.guard',
          waitMs: 5000,
        },
        policy: DEFAULT_POLICY,
        revocationsTopic: 'tokenwatch.revocations',
        publicUrl: '',
        configFile: '',
        webhooks: {
          targets: [],
          groupWaitMs: 2000,
          groupIntervalMs: 60_000,
          timeoutMs: 5000,
          allowedCidrs: [],
        },
      },
    };
    const config = loadConfig({});
    expect(config).toStrictEqual(expected);
    expect(config.detect.settings.base).toStrictEqual(REGISTRY.defaults);
    expect(config.detect.settings.dryRun).toEqual(new Set());
  });

  it('treats empty and blank values as unset', () => {
    expect(
      loadConfig({
        TOKENWATCH_PORT: '',
        TOKENWATCH_HOST: '   ',
        TOKENWATCH_MIGRATE_ON_START: ' ',
        TOKENWATCH_TRUST_PROXY: '',
      }),
    ).toStrictEqual(loadConfig({}));
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ TOKENWATCH_NOPE: 'x', PORT: '1' })).toStrictEqual(loadConfig({}));
  });
});

describe('loadConfig parsing', () => {
  it('reads every TOKENWATCH_* variable', () => {
    const config = loadConfig({
      TOKENWATCH_HOST: ' 127.0.0.1 ',
      TOKENWATCH_PORT: '9090',
      TOKENWATCH_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      TOKENWATCH_LOG_LEVEL: 'debug',
      TOKENWATCH_API_KEYS: ` acme:${KEY} , beta:key:with:colons:1 ,`,
      TOKENWATCH_CLICKHOUSE_URL: 'https://ch.example:8443/',
      TOKENWATCH_CLICKHOUSE_USER: 'ingest',
      TOKENWATCH_CLICKHOUSE_PASSWORD: ' p@ss ',
      TOKENWATCH_CLICKHOUSE_DATABASE: 'tw_prod',
      TOKENWATCH_CLICKHOUSE_CLUSTER: 'main_cluster',
      TOKENWATCH_RETENTION_DAYS: '30',
      TOKENWATCH_MIGRATE_ON_START: 'off',
      TOKENWATCH_CLICKHOUSE_TIMEOUT_MS: '5000',
      TOKENWATCH_KAFKA_BROKERS: 'k1:9092, k2.example:19092',
      TOKENWATCH_KAFKA_CLIENT_ID: 'tw-1',
      TOKENWATCH_KAFKA_GROUP_ID: 'tw-group',
      TOKENWATCH_KAFKA_TOPICS: 'a.events, b.events',
      TOKENWATCH_KAFKA_PUBLISH_TOPIC: 'http.events',
      TOKENWATCH_KAFKA_DEAD_LETTER_TOPIC: 'dlq',
      TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '12',
      TOKENWATCH_KAFKA_SESSION_TIMEOUT_MS: '15000',
      TOKENWATCH_KAFKA_COMPRESSION: 'gzip',
      TOKENWATCH_BATCH_MAX_ROWS: '500',
      TOKENWATCH_BATCH_MAX_WAIT_MS: '250',
      TOKENWATCH_BUFFER_MAX_ROWS: '500',
      TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS: '2000',
      TOKENWATCH_HTTP_ACK_LINGER_MS: '20',
      TOKENWATCH_HTTP_BODY_LIMIT_BYTES: '1048576',
      TOKENWATCH_HTTP_ACK_TIMEOUT_MS: '3000',
      TOKENWATCH_EVENT_MAX_BYTES: '8192',
      TOKENWATCH_MAX_EVENT_AGE_SECONDS: '3600',
      TOKENWATCH_MAX_FUTURE_SKEW_SECONDS: '0',
      TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES: '1024',
      TOKENWATCH_READ_API_KEYS: `*:${KEY}`,
      TOKENWATCH_DETECT: 'false',
      TOKENWATCH_DETECT_GROUP_ID: 'tw-detect',
      TOKENWATCH_KAFKA_FINDINGS_TOPIC: 'findings',
      TOKENWATCH_DETECT_MAX_KEYS: '50000',
      TOKENWATCH_DETECT_REBUILD_OVERLAP_SECONDS: '60',
      TOKENWATCH_DETECT_CONFIG: settingsFile,
      TOKENWATCH_DETECT_DRY_RUN: 'device_reuse, impossible_travel',
      TOKENWATCH_DETECT_ALLOWLIST: '185.65.134.0/24',
      TOKENWATCH_DETECT_GRACE_WINDOW_MS: '45000',
      TOKENWATCH_AUTH_REVOKE_URL: 'https://auth.example/v1/revocations',
      TOKENWATCH_AUTH_TOKEN: 'static-token',
      TOKENWATCH_AUTH_TOKEN_URL: 'https://auth.example/oauth/token',
      TOKENWATCH_AUTH_CLIENT_ID: 'tokenwatch',
      TOKENWATCH_AUTH_CLIENT_SECRET: 'pw',
      TOKENWATCH_AUTH_SCOPE: 'revoke admin',
      TOKENWATCH_AUTH_TIMEOUT_MS: '1500',
      TOKENWATCH_AUTH_RETRY_BASE_MS: '100',
      TOKENWATCH_AUTH_RETRY_MAX_MS: '2000',
      TOKENWATCH_AUTH_GIVE_UP_SECONDS: '600',
      TOKENWATCH_AUTH_BREAKER_FAILURES: '3',
      TOKENWATCH_AUTH_BREAKER_COOLDOWN_MS: '1000',
      TOKENWATCH_GUARD_TENANT_PER_MINUTE: '10',
      TOKENWATCH_GUARD_TOTAL_PER_MINUTE: '40',
      TOKENWATCH_KAFKA_GUARD_TOPIC: 'guard',
      TOKENWATCH_GUARD_WAIT_MS: '750',
      TOKENWATCH_RESPONSE_CONFIG: responseFile,
      TOKENWATCH_RESPONSE_DRY_RUN: 'device_reuse',
      TOKENWATCH_POLICY_DEVICE_REVOKE_REQUIRES_STRONG: 'true',
      TOKENWATCH_KAFKA_REVOCATIONS_TOPIC: 'revocations',
      TOKENWATCH_PUBLIC_URL: 'https://tokenwatch.example',
      TOKENWATCH_WEBHOOK_URL: 'http://127.0.0.1:9999/hook',
      TOKENWATCH_WEBHOOK_SECRET: 'hook-secret',
      TOKENWATCH_WEBHOOK_FORMAT: 'alertmanager',
      TOKENWATCH_WEBHOOK_MIN_SEVERITY: 'high',
      TOKENWATCH_WEBHOOK_GROUP_WAIT_MS: '500',
      TOKENWATCH_WEBHOOK_GROUP_INTERVAL_MS: '30000',
      TOKENWATCH_WEBHOOK_TIMEOUT_MS: '3000',
      TOKENWATCH_WEBHOOK_ALLOWED_CIDRS: '169.254.10.0/24',
      TOKENWATCH_HTTP_MAX_EVENTS_PER_REQUEST: '500',
      TOKENWATCH_HTTP_REQUESTS_PER_SECOND_PER_KEY: '20',
      TOKENWATCH_TENANT_EVENTS_PER_SECOND: '1000',
      TOKENWATCH_TENANT_BYTES_PER_SECOND: '2000000',
      TOKENWATCH_TENANT_BURST_SECONDS: '5',
      TOKENWATCH_GEOIP_CITY_DB: '/data/GeoLite2-City.mmdb',
      TOKENWATCH_GEOIP_ASN_DB: '/data/GeoLite2-ASN.mmdb',
      TOKENWATCH_GEOIP_ANONYMOUS_DB: '/data/GeoIP2-Anonymous-IP.mmdb',
      TOKENWATCH_GEOIP_CONNECTION_TYPE_DB: '/data/GeoIP2-Connection-Type.mmdb',
      TOKENWATCH_NETWORK_KINDS_FILE: '/etc/tokenwatch/network-kinds.txt',
      TOKENWATCH_GEOIP_UNKNOWN_RADIUS_KM: '50',
      TOKENWATCH_GEOIP_POLL_SECONDS: '0',
      TOKENWATCH_HTTP_MAX_INFLATING: '2',
      TOKENWATCH_HTTP_REQUEST_TIMEOUT_MS: '10000',
      TOKENWATCH_HTTP_CONNECTION_TIMEOUT_MS: '20000',
      TOKENWATCH_HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
      TOKENWATCH_HTTP_SHUTDOWN_GRACE_MS: '2000',
      TOKENWATCH_HTTP_MAX_EVENT_LOOP_DELAY_MS: '0',
      TOKENWATCH_METRICS_KEY: 'metrics-key-0123456789',
      TOKENWATCH_METRICS_PORT: '9464',
      TOKENWATCH_METRICS_HOST: '127.0.0.2',
      TOKENWATCH_READY_MAX_BACKLOG_MS: '5000',
      TOKENWATCH_BUFFER_TENANT_SHARE_PERCENT: '50',
      TOKENWATCH_EVENT_MAX_DEPTH: '32',
      ONCALL_SECRET: 'oncall-secret',
    });
    expect(config.detect.settings.base).toMatchObject({
      graceWindowMs: 45_000,
      maxSpeedKmh: 900,
      allowlistCidrs: ['10.9.0.0/16', '185.65.134.0/24'],
    });
    expect(config.detect.settings.thresholds.for('acme').minDistanceKm).toBe(500);
    expect(config.detect.settings.thresholds.for('other').minDistanceKm).toBe(300);
    expect([...config.detect.settings.dryRun].sort()).toEqual([
      'device_reuse',
      'impossible_travel',
      'verification_anomaly',
    ]);
    expect(config).toStrictEqual({
      service: {
        host: '127.0.0.1',
        port: 9090,
        trustProxy: '10.0.0.0/8, 127.0.0.1',
        logLevel: 'debug',
        apiKeys: [
          { tenant: 'acme', key: KEY },
          { tenant: 'beta', key: 'key:with:colons:1' },
        ],
        readApiKeys: [{ tenant: '*', key: KEY }],
        denylistApiKeys: [],
        requestTimeoutMs: 10_000,
        connectionTimeoutMs: 20_000,
        keepAliveTimeoutMs: 1000,
        shutdownGraceMs: 2000,
        metricsKey: 'metrics-key-0123456789',
        metricsPort: 9464,
        metricsHost: '127.0.0.2',
        readyMaxBacklogMs: 5000,
      },
      clickhouse: {
        url: 'https://ch.example:8443/',
        user: 'ingest',
        password: ' p@ss ',
        database: 'tw_prod',
        cluster: 'main_cluster',
        retentionDays: 30,
        migrateOnStart: false,
        requestTimeoutMs: 5000,
      },
      kafka: {
        brokers: ['k1:9092', 'k2.example:19092'],
        clientId: 'tw-1',
        topicPartitions: 12,
        compression: 'gzip',
        sessionTimeoutMs: 15_000,
      },
      ingest: {
        kafka: {
          groupId: 'tw-group',
          topics: ['a.events', 'b.events'],
          publishTopic: 'http.events',
          deadLetterTopic: 'dlq',
          producerTopics: [],
          relaySecret: '',
          requireReporter: false,
          bindings: new Map(),
        },
        batch: {
          maxRows: 500,
          maxWaitMs: 250,
          bufferMaxRows: 500,
          retryMaxBackoffMs: 2000,
          urgentLingerMs: 20,
          tenantShare: 0.5,
        },
        limits: {
          httpBodyBytes: 1_048_576,
          httpAckTimeoutMs: 3000,
          eventBytes: 8192,
          eventMaxDepth: 32,
          maxEventAgeSeconds: 3600,
          maxFutureSkewSeconds: 0,
          deadLetterPayloadBytes: 1024,
        },
        door: {
          maxEventsPerRequest: 500,
          requestsPerSecondPerKey: 20,
          tenantEventsPerSecond: 1000,
          tenantBytesPerSecond: 2_000_000,
          tenantBurstSeconds: 5,
          maxInflating: 2,
          maxEventLoopDelayMs: 0,
        },
        ipIntel: {
          cityDb: '/data/GeoLite2-City.mmdb',
          asnDb: '/data/GeoLite2-ASN.mmdb',
          anonymousDb: '/data/GeoIP2-Anonymous-IP.mmdb',
          connectionTypeDb: '/data/GeoIP2-Connection-Type.mmdb',
          networkKindsFile: '/etc/tokenwatch/network-kinds.txt',
          unknownRadiusKm: 50,
          pollSeconds: 0,
        },
      },
      detect: {
        enabled: false,
        groupId: 'tw-detect',
        findingsTopic: 'findings',
        addressTopic: 'tw-detect.by-address',
        maxKeys: 50_000,
        rebuildOverlapSeconds: 60,
        configFile: settingsFile,
        settings: expect.any(Object),
      },
      response: {
        adapter: 'contract',
        keycloak: {
          url: '',
          realm: '',
          clientId: 'tokenwatch',
          clientSecret: '',
          timeoutMs: 5000,
          familyMode: 'session',
        },
        revocationUrl: 'https://auth.example/v1/revocations',
        auth: {
          token: 'static-token',
          tokenUrl: 'https://auth.example/oauth/token',
          clientId: 'tokenwatch',
          clientSecret: 'pw',
          scope: 'revoke admin',
        },
        timeoutMs: 1500,
        retry: { baseMs: 100, maxMs: 2000, giveUpAfterMs: 600_000 },
        breaker: { failureThreshold: 3, cooldownMs: 1000 },
        guard: {
          perTenantPerMinute: 10,
          totalPerMinute: 40,
          reservedPerTenant: 3,
          windowMs: 60_000,
          retrySuppressedMs: 3_600_000,
          topic: 'guard',
          waitMs: 750,
        },
        // TOKENWATCH_POLICY_DEVICE_REVOKE_REQUIRES_STRONG: every detector's device evidence must be strong
        policy: Object.fromEntries(
          Object.entries({
            ...DEFAULT_POLICY,
            impossible_travel: {
              target: 'session' as const,
              minSeverity: 'critical' as const,
              dryRun: false,
            },
            device_reuse: { ...DEFAULT_POLICY['device_reuse']!, dryRun: true },
          }).map(([name, p]) => [name, { ...p, requireStrongDevice: true }]),
        ),
        revocationsTopic: 'revocations',
        publicUrl: 'https://tokenwatch.example',
        configFile: responseFile,
        webhooks: {
          targets: [
            {
              name: 'oncall',
              url: 'https://hooks.example/x',
              format: 'slack',
              secret: 'oncall-secret',
              previousSecret: '',
              minSeverity: 'low',
              detectors: [],
              kinds: [],
              headers: {},
            },
            {
              name: 'env',
              url: 'http://127.0.0.1:9999/hook',
              format: 'alertmanager',
              secret: 'hook-secret',
              previousSecret: '',
              minSeverity: 'high',
              detectors: [],
              kinds: [],
              headers: {},
            },
          ],
          groupWaitMs: 500,
          groupIntervalMs: 30_000,
          timeoutMs: 3000,
          allowedCidrs: ['169.254.10.0/24'],
        },
      },
    } satisfies Config);
  });

  it('publishes to the first consumed topic by default', () => {
    expect(loadConfig({ TOKENWATCH_KAFKA_TOPICS: 'x.events,y.events' }).ingest.kafka.publishTopic).toBe(
      'x.events',
    );
  });

  it.each([
    ['true', true],
    ['false', false],
    ['loopback', 'loopback'],
    ['10.0.0.1', '10.0.0.1'],
  ])('TOKENWATCH_TRUST_PROXY=%s → %j', (raw, expected) => {
    expect(loadConfig({ TOKENWATCH_TRUST_PROXY: raw }).service.trustProxy).toBe(expected);
  });

  it.each([
    ['1', true],
    ['TRUE', true],
    ['yes', true],
    [' on ', true],
    ['0', false],
    ['False', false],
    ['no', false],
    ['off', false],
  ])('TOKENWATCH_MIGRATE_ON_START=%j → %s', (raw, expected) => {
    expect(loadConfig({ TOKENWATCH_MIGRATE_ON_START: raw }).clickhouse.migrateOnStart).toBe(expected);
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])(
    'TOKENWATCH_LOG_LEVEL=%s',
    (level) => {
      expect(loadConfig({ TOKENWATCH_LOG_LEVEL: level }).service.logLevel).toBe(level);
    },
  );

  it('accepts the bounds of integer ranges', () => {
    const config = loadConfig({
      TOKENWATCH_PORT: '0',
      TOKENWATCH_RETENTION_DAYS: '36500',
      TOKENWATCH_BATCH_MAX_ROWS: '1',
      TOKENWATCH_BUFFER_MAX_ROWS: '1',
      TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS: '10',
      TOKENWATCH_EVENT_MAX_BYTES: '256',
      TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES: '64',
    });
    expect([
      config.service.port,
      config.clickhouse.retentionDays,
      config.ingest.batch.maxRows,
      config.ingest.batch.bufferMaxRows,
      config.ingest.batch.retryMaxBackoffMs,
      config.ingest.limits.eventBytes,
      config.ingest.limits.deadLetterPayloadBytes,
    ]).toStrictEqual([0, 36500, 1, 1, 10, 256, 64]);
  });
});

describe('loadConfig errors', () => {
  it('throws one ConfigError listing every problem', () => {
    const err = configError({
      TOKENWATCH_PORT: '70000',
      TOKENWATCH_LOG_LEVEL: 'loud',
      TOKENWATCH_API_KEYS: `acme:short,${KEY},ok:${KEY}`,
      TOKENWATCH_CLICKHOUSE_URL: 'ftp://ch',
      TOKENWATCH_CLICKHOUSE_DATABASE: 'my-db',
      TOKENWATCH_CLICKHOUSE_CLUSTER: 'prod cluster',
      TOKENWATCH_KAFKA_BROKERS: 'k1:9092,bad broker,k2',
      TOKENWATCH_KAFKA_TOPICS: ' , ',
      TOKENWATCH_MIGRATE_ON_START: 'maybe',
      TOKENWATCH_RETENTION_DAYS: '1.5',
      TOKENWATCH_BATCH_MAX_ROWS: '500',
      TOKENWATCH_BUFFER_MAX_ROWS: '100',
    });
    // in the order of the configuration page (docs/configuration.md)
    const problems = [
      'TOKENWATCH_PORT="70000" must be an integer from 0 to 65535',
      'TOKENWATCH_LOG_LEVEL="loud" must be one of fatal, error, warn, info, debug, trace, silent',
      'TOKENWATCH_API_KEYS entries must be tenant:key or tenant:key:role (role verifier or auth-server) with a key of at least 16 characters (got an entry for "acme")',
      'TOKENWATCH_API_KEYS entries must be tenant:key or tenant:key:role (role verifier or auth-server) with a key of at least 16 characters (got an entry for "(no tenant)")',
      'TOKENWATCH_CLICKHOUSE_URL="ftp://ch" must be an http(s) URL',
      'TOKENWATCH_CLICKHOUSE_DATABASE="my-db" must be a plain identifier (letters, digits, _)',
      'TOKENWATCH_CLICKHOUSE_CLUSTER="prod cluster" must be a plain identifier (letters, digits, _)',
      'TOKENWATCH_RETENTION_DAYS="1.5" must be an integer from 1 to 36500',
      'TOKENWATCH_MIGRATE_ON_START="maybe" must be true or false',
      'TOKENWATCH_KAFKA_BROKERS entry "bad broker" must be host:port',
      'TOKENWATCH_KAFKA_BROKERS entry "k2" must be host:port',
      'TOKENWATCH_KAFKA_TOPICS must name at least one topic',
      'TOKENWATCH_BUFFER_MAX_ROWS (100) must be at least TOKENWATCH_BATCH_MAX_ROWS (500)',
    ];
    expect(err.problems).toStrictEqual(problems);
    expect(err.code).toBe('ERR_TOKENWATCH_CONFIG');
    expect(err.name).toBe('ConfigError');
    expect(err.message).toBe(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  });

  it('does not put API key material in the error', () => {
    const err = configError({ TOKENWATCH_API_KEYS: 'acme:secret-short' });
    expect(err.message).not.toContain('secret-short');
  });

  it.each([
    ['TOKENWATCH_PORT', '-1', 'must be an integer from 0 to 65535'],
    ['TOKENWATCH_PORT', 'http', 'must be an integer from 0 to 65535'],
    ['TOKENWATCH_PORT', '80.5', 'must be an integer from 0 to 65535'],
    ['TOKENWATCH_RETENTION_DAYS', '0', 'must be an integer from 1 to 36500'],
    ['TOKENWATCH_CLICKHOUSE_TIMEOUT_MS', '99', `must be an integer from 100 to ${Number.MAX_SAFE_INTEGER}`],
    ['TOKENWATCH_KAFKA_TOPIC_PARTITIONS', '0', 'must be an integer from 1 to 10000'],
    ['TOKENWATCH_BATCH_MAX_WAIT_MS', '600001', 'must be an integer from 1 to 600000'],
    ['TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS', '9', 'must be an integer from 10 to 600000'],
    [
      'TOKENWATCH_HTTP_BODY_LIMIT_BYTES',
      '1023',
      `must be an integer from 1024 to ${Number.MAX_SAFE_INTEGER}`,
    ],
    ['TOKENWATCH_EVENT_MAX_BYTES', '255', `must be an integer from 256 to ${Number.MAX_SAFE_INTEGER}`],
    ['TOKENWATCH_MAX_EVENT_AGE_SECONDS', '0', `must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`],
    ['TOKENWATCH_MAX_FUTURE_SKEW_SECONDS', '-5', `must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`],
    ['TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES', '1048577', 'must be an integer from 64 to 1048576'],
  ])('%s=%j is refused', (name, raw, rule) => {
    expect(configError({ [name]: raw }).problems).toStrictEqual([`${name}=${JSON.stringify(raw)} ${rule}`]);
  });

  it('explains what is wrong with detector settings, naming the file and field', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'tokenwatch-config-')), 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        thresholds: { graceWindowMs: -1, allowlistCidrs: ['10.0.0.0/33'] },
        dryRun: ['refresh_replay', 'nope'],
        extra: 1,
      }),
    );
    const problems = configError({
      TOKENWATCH_DETECT_CONFIG: bad,
      TOKENWATCH_DETECT_DRY_RUN: 'impossible_travel,teleport',
      TOKENWATCH_DETECT_ALLOWLIST: '300.1.1.1/8',
      TOKENWATCH_DETECT_GRACE_WINDOW_MS: 'soon',
    }).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^TOKENWATCH_DETECT_CONFIG: detector settings .*bad\.json: /);
    expect(problems[0]).toContain('/thresholds/graceWindowMs');
    expect(problems[0]).toContain('/dryRun/1: "nope" is not a detector');
    expect(problems[0]).toContain('/extra: Unexpected property');
    expect(problems.slice(1)).toStrictEqual([
      'TOKENWATCH_DETECT_DRY_RUN entry "teleport" is not a detector (refresh_replay, impossible_travel, device_reuse, verification_anomaly, key_mismatch)',
      'TOKENWATCH_DETECT_GRACE_WINDOW_MS="soon" must be an integer from 0 to 3600000',
      'TOKENWATCH_DETECT_ALLOWLIST: invalid CIDR "300.1.1.1/8": expected an IPv4/IPv6 address with an optional /prefix',
    ]);
    expect(configError({ TOKENWATCH_DETECT_CONFIG: '/nonexistent/detectors.json' }).problems[0]).toMatch(
      /detector settings \/nonexistent\/detectors\.json: ENOENT/,
    );
  });

  it('explains what is wrong with the response settings and auth API options', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'tokenwatch-config-')), 'response.json');
    writeFileSync(
      bad,
      JSON.stringify({
        policy: { refresh_replay: { target: 'everything' }, teleport: {} },
        webhooks: [{ name: 'x', url: 'https://h.example', format: 'generic', secretEnv: 'MISSING_SECRET' }],
      }),
    );
    const problems = configError({
      TOKENWATCH_RESPONSE_CONFIG: bad,
      TOKENWATCH_AUTH_REVOKE_URL: 'https://auth.example/revoke',
      TOKENWATCH_RESPONSE_DRY_RUN: 'refresh_replay,teleport',
      TOKENWATCH_WEBHOOK_URL: 'ftp://nope',
      TOKENWATCH_WEBHOOK_ALLOWED_CIDRS: 'everything',
    }).problems;
    expect(problems[0]).toMatch(/^TOKENWATCH_RESPONSE_CONFIG: response settings .*response\.json: /);
    expect(problems[0]).toContain('/policy/refresh_replay/target');
    expect(problems[0]).toContain('/policy/teleport');
    expect(problems).toContain('TOKENWATCH_RESPONSE_DRY_RUN entry "teleport" is not a detector');
    expect(problems.join('\n')).toContain('TOKENWATCH_AUTH_REVOKE_URL is set but no credentials');
    expect(problems.join('\n')).toContain('TOKENWATCH_WEBHOOK_ALLOWED_CIDRS: invalid CIDR "everything"');
    expect(problems.join('\n')).toMatch(/url/);
    const missingSecret = join(mkdtempSync(join(tmpdir(), 'tokenwatch-config-')), 'response.json');
    writeFileSync(
      missingSecret,
      JSON.stringify({
        webhooks: [{ name: 'x', url: 'https://h.example', format: 'generic', secretEnv: 'MISSING_SECRET' }],
      }),
    );
    expect(configError({ TOKENWATCH_RESPONSE_CONFIG: missingSecret }).problems).toContain(
      'TOKENWATCH_RESPONSE_CONFIG /webhooks/0/secretEnv: environment variable "MISSING_SECRET" is not set',
    );
    expect(configError({ TOKENWATCH_AUTH_TOKEN_URL: 'https://a.example/token' }).problems).toStrictEqual([
      'TOKENWATCH_AUTH_TOKEN_URL needs TOKENWATCH_AUTH_CLIENT_ID and TOKENWATCH_AUTH_CLIENT_SECRET',
    ]);
  });

  it('checks the buffer against the default batch size', () => {
    expect(configError({ TOKENWATCH_BUFFER_MAX_ROWS: '9999' }).problems).toStrictEqual([
      'TOKENWATCH_BUFFER_MAX_ROWS (9999) must be at least TOKENWATCH_BATCH_MAX_ROWS (10000)',
    ]);
  });

  it.each(['http://', 'localhost:8123', 'HTTP://x'])('refuses TOKENWATCH_CLICKHOUSE_URL=%s', (url) => {
    expect(configError({ TOKENWATCH_CLICKHOUSE_URL: url }).problems).toStrictEqual([
      `TOKENWATCH_CLICKHOUSE_URL=${JSON.stringify(url)} must be an http(s) URL`,
    ]);
  });

  it.each([':0123456789abcdef', 'acme:', 'acme'])('refuses the API key entry %j', (entry) => {
    expect(configError({ TOKENWATCH_API_KEYS: entry }).problems).toHaveLength(1);
  });

  it.each(['1db', 'db.name', 'db;drop'])('refuses the database name %j', (name) => {
    expect(configError({ TOKENWATCH_CLICKHOUSE_DATABASE: name }).problems).toStrictEqual([
      `TOKENWATCH_CLICKHOUSE_DATABASE=${JSON.stringify(name)} must be a plain identifier (letters, digits, _)`,
    ]);
  });
});
