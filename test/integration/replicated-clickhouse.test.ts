/**
 * tokenwatch on a ClickHouse 18.16 cluster, with a ZooKeeper started here once (in a temporary
 * folder) beside the suite's Kafka.
 * - One shard of two replicas A and B (cluster `tokenwatch`): the migrations run ON CLUSTER (every
 *   table Replicated on both replicas; run again they run nothing, even with a replica down);
 *   retention drops partitions on both; a service writes through A and every event is read through
 *   B; either replica killed mid-stream loses and doubles nothing; a retry after a view failed loses
 *   nothing; the detectors rebuild their state through B; the dashboards' SQL runs on the cluster.
 * - Two shards: the local tables made by the migrations, the Distributed ones by the SQL of
 *   docs/clickhouse-cluster.md; a service on them stores every event once with each subject on one
 *   shard and rebuilds its detectors through them; retention reaches every shard; the dashboards'
 *   SQL runs on them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, featuresOf } from '../../platform/clickhouse/client.ts';
import { migrate } from '../../platform/clickhouse/migrate.ts';
import { dropExpiredPartitions } from '../../platform/clickhouse/retention.ts';
import { MIGRATIONS } from '../../platform/clickhouse/schema.ts';
import { quoteString } from '../../platform/clickhouse/sql.ts';
import { loadConfig } from '../../service/config.ts';
import {
  type ClickHouseCluster,
  type ClusterReplica,
  planClickHouseCluster,
  startClickHouseCluster,
  startClusterReplica,
  stopClickHouseCluster,
  stopClusterReplica,
} from '../../tools/local-stack/clickhouse-cluster.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { freePort } from '../../tools/local-stack/process.ts';
import { type RunningZooKeeper, startZooKeeper, stopZooKeeper } from '../../tools/local-stack/zookeeper.ts';
import { chdb, chdbFeatures, schemaStatements } from '../support/chdb.ts';
import { dashboardProblemsAt, seededWorld } from '../support/dashboard-queries.ts';
import {
  kafkaClient,
  makeEvents,
  metric,
  postAll,
  postEvents,
  produce,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  spawnScript,
  startService,
  unique,
  waitUntil,
} from '../support/harness.ts';
import { login, replay } from '../support/refresh-story.ts';

const DATABASE = unique('rep');

/** What a tokenwatch on the cluster is given, talking to the replica at `url`. */
const onCluster = (c: ClickHouseCluster, url: string) => ({
  TOKENWATCH_CLICKHOUSE_URL: url,
  TOKENWATCH_CLICKHOUSE_DATABASE: DATABASE,
  TOKENWATCH_CLICKHOUSE_CLUSTER: c.name,
});

/** Services of the streaming tests: small batches, quick retries, no detectors (not what is tested there). */
const STREAMING = {
  TOKENWATCH_BATCH_MAX_ROWS: '2000',
  TOKENWATCH_BATCH_MAX_WAIT_MS: '200',
  TOKENWATCH_INSERT_RETRY_MAX_BACKOFF_MS: '500',
  TOKENWATCH_DETECT: 'false',
  // the dashboards' seeded world is in November 2026: no service drops it
  TOKENWATCH_RETENTION_DAYS: '3650',
};

/** A client of one server (the errors the tests cause are theirs to check, not to log). */
const replicaClient = (r: ClusterReplica) =>
  createClient({ url: r.url, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });

/** The rows events_by_token_mv makes of an event: one per token id it mentions. */
const TOKEN_FIELDS = ['jti', 'access_jti', 'family_id', 'token_id', 'new_token_id', 'session_id'];
const tokenRows = (events: Record<string, unknown>[]) =>
  events.reduce((n, e) => n + TOKEN_FIELDS.filter((f) => (e[f] ?? '') !== '').length, 0);

/** Produces `events` to the topic in chunks of 1000, one every `pauseMs`: a steady stream to kill a replica in. */
async function stream(kafka: Kafka, topic: string, events: Record<string, unknown>[], pauseMs = 300) {
  for (let i = 0; i < events.length; i += 1000) {
    await produce(kafka, topic, events.slice(i, i + 1000));
    await sleep(pauseMs);
  }
}

let dir: string;
let zookeeper: RunningZooKeeper;
beforeAll(async () => {
  dir = mkdtempSync(`${tmpdir()}/tokenwatch-cluster-`);
  zookeeper = await startZooKeeper({ dir: `${dir}/zookeeper`, port: await freePort() });
});
afterAll(async () => {
  if (dir === undefined) return;
  await stopZooKeeper(`${dir}/zookeeper`);
  rmSync(dir, { recursive: true, force: true });
});

/** `tokenwatch migrate` with `env`: its output (the last log line is the report). */
async function migrateCli(env: Record<string, string>) {
  const run = spawnScript('service/cli.ts', ['migrate'], env);
  const code = await run.exited;
  expect(code, run.output()).toBe(0);
  return run.output();
}

/**
 * A cluster of `layout` in `<dir>/<folder>`, started before the describe's tests and stopped after
 * them, with a client per server and the services its tests start (stopped first).
 */
function clusterForTests(folder: string, layout: { shards?: number; replicas?: number }) {
  const t = { cluster: undefined as unknown as ClickHouseCluster, clients: [] as ClickHouseClient[] };
  const services: RunningService[] = [];
  beforeAll(async () => {
    t.cluster = await planClickHouseCluster({
      dir: `${dir}/${folder}`,
      zookeeper: zookeeper.connect,
      ...layout,
    });
    await startClickHouseCluster(t.cluster);
    t.clients = t.cluster.replicas.map(replicaClient);
  });
  afterAll(async () => {
    for (const s of services) if (s.child.exitCode === null) await s.stop();
    await Promise.all(t.clients.map((c) => c.close()));
    if (t.cluster !== undefined) await stopClickHouseCluster(t.cluster);
  });
  return Object.assign(t, { services });
}

describe('tokenwatch on a replicated ClickHouse (one shard, two replicas)', () => {
  const t = clusterForTests('replicated', {});
  const { services } = t;
  let cluster: ClickHouseCluster;
  let A: ClusterReplica;
  let B: ClusterReplica;
  let a: ClickHouseClient;
  let b: ClickHouseClient;
  const kafka = kafkaClient();
  beforeAll(() => {
    cluster = t.cluster;
    [A, B] = cluster.replicas as [ClusterReplica, ClusterReplica];
    [a, b] = t.clients as [ClickHouseClient, ClickHouseClient];
  });

  const migrateThrough = (r: ClusterReplica) => migrateCli(onCluster(cluster, r.url));

  const eventsOf = (prefix: string) => `${DATABASE}.events WHERE event_id LIKE '${prefix}-%'`;
  const stored = (c: ClickHouseClient, prefix: string) =>
    scalar(c, `SELECT uniqExact(event_id) FROM ${eventsOf(prefix)}`);

  /** Every event once through replica `c`: in events and, a row per token, in events_by_token. */
  async function expectEachOnce(c: ClickHouseClient, prefix: string, events: Record<string, unknown>[]) {
    expect(
      await scalar(c, `SELECT count() FROM ${DATABASE}.events FINAL WHERE event_id LIKE '${prefix}-%'`),
    ).toBe(events.length);
    const byToken = `${DATABASE}.events_by_token FINAL WHERE event_id LIKE '${prefix}-%'`;
    expect(await scalar(c, `SELECT count() FROM ${byToken}`)).toBe(tokenRows(events));
    expect(await scalar(c, `SELECT uniqExact(event_id) FROM ${byToken}`)).toBe(events.length);
  }

  it('migrates ON CLUSTER at a start: every table Replicated on both replicas; tokenwatch migrate again runs nothing, even with a replica down', async () => {
    // the first service's start-up migration creates the schema
    const first = await startService(
      serviceSetup({ kafka: false, extra: { ...onCluster(cluster, A.url), ...STREAMING } }).env,
      240_000, // every migration ON CLUSTER: a distributed DDL each, waiting for both replicas
    );
    services.push(first);
    expect(first.output()).toContain(`"applied":${MIGRATIONS.length}`);
    expect(await first.stop()).toBe(0);
    const expected = [
      'dead_letters:ReplicatedReplacingMergeTree',
      'dead_letters_per_minute:ReplicatedSummingMergeTree',
      'dead_letters_per_minute_mv:MaterializedView',
      'detections:ReplicatedReplacingMergeTree',
      'events:ReplicatedReplacingMergeTree',
      'events_by_token:ReplicatedReplacingMergeTree',
      'events_by_token_mv:MaterializedView',
      'events_per_minute:ReplicatedSummingMergeTree',
      'events_per_minute_mv:MaterializedView',
      'ingest_per_minute:ReplicatedAggregatingMergeTree',
      'ingest_per_minute_mv:MaterializedView',
      'revocation_notices:ReplicatedMergeTree',
      'revocations:ReplicatedMergeTree',
      'schema_migrations:ReplicatedReplacingMergeTree',
      'webhook_deliveries:ReplicatedMergeTree',
    ];
    const columns = `SELECT table, count() AS n FROM system.columns WHERE database = '${DATABASE}' GROUP BY table ORDER BY table`;
    for (const c of [a, b]) {
      const tables = await queryRows<{ name: string; engine: string }>(
        c,
        `SELECT name, engine FROM system.tables WHERE database = '${DATABASE}' ORDER BY name`,
      );
      expect(tables.map((t) => `${t.name}:${t.engine}`)).toEqual(expected);
    }
    // every ALTER reached both (detections got its columns in three migrations)
    expect(await queryRows(b, columns)).toEqual(await queryRows(a, columns));
    await waitUntil('the migrations recorded on B too', async () =>
      (await scalar(b, `SELECT uniqExact(version) FROM ${DATABASE}.schema_migrations`)) === MIGRATIONS.length
        ? true
        : undefined,
    );

    // Again, through either replica: all applied, and no statement is queued ON CLUSTER.
    const queued = () => scalar(a, `SELECT count() FROM system.zookeeper WHERE path = '${cluster.ddlQueue}'`);
    const before = await queued();
    for (const r of [A, B])
      expect(await migrateThrough(r)).toContain(`"alreadyApplied":${MIGRATIONS.length}`);
    expect(await queued()).toBe(before);
    // With B down an ON CLUSTER statement would wait for it; with nothing to apply nothing waits.
    await stopClusterReplica(B);
    const started = Date.now();
    expect(await migrateThrough(A)).toContain(`"alreadyApplied":${MIGRATIONS.length}`);
    expect(Date.now() - started).toBeLessThan(10_000);
    await startClusterReplica(cluster, B);
  });

  it('retention drops the expired day partitions on both replicas (18.16 has no TTL)', async () => {
    const day = 86_400;
    const now = Math.floor(Date.now() / 1000);
    const times = [now, now - 10 * day, now - 40 * day, now - 400 * day];
    await a.insert({
      table: `${DATABASE}.events`,
      values: times.map((t, i) => ({
        event_id: `ret-${i}`,
        type: 'refresh',
        tenant: 'retention',
        time: t,
        time_ms: t * 1000,
        received_at: t,
        received_ms: t * 1000,
        jti: `ret-j${i}`,
      })),
      format: 'JSONEachRow',
    });
    const remaining = async (c: ClickHouseClient) => [
      await scalar(c, `SELECT count() FROM ${eventsOf('ret')}`),
      await scalar(c, `SELECT count() FROM ${DATABASE}.events_by_token WHERE tenant = 'retention'`),
      await scalar(c, `SELECT sum(events) FROM ${DATABASE}.events_per_minute WHERE tenant = 'retention'`),
    ];
    await waitUntil('B has the rows', async () => ((await remaining(b))[0] === 4 ? true : undefined));
    const o = { database: DATABASE, cluster: cluster.name, retentionDays: 30 };
    const log = pino({ level: 'silent' });
    // two old days in events, events_by_token and the two event rollups
    expect(await dropExpiredPartitions(a, o, featuresOf('18.16.1'), log)).toBe(8);
    expect(await remaining(a)).toEqual([2, 2, 2]);
    await waitUntil('B dropped them too', async () =>
      (await remaining(b)).join() === '2,2,2' ? true : undefined,
    );
    expect(await dropExpiredPartitions(b, o, featuresOf('18.16.1'), log)).toBe(0);
  });

  it('a retried insert whose first attempt failed in a view reaches every view: tokenwatch inserts without deduplication', async () => {
    // A view on A that fails inserts of `vf-`/`vd-` events (after `events` stored them) until allowed.
    await a.command({ query: `CREATE TABLE ${DATABASE}.view_allowed (x UInt8) ENGINE = Memory` });
    await a.command({ query: `CREATE TABLE ${DATABASE}.view_rows (event_id String) ENGINE = Memory` });
    await a.command({
      query: `CREATE MATERIALIZED VIEW ${DATABASE}.failing_view TO ${DATABASE}.view_rows AS
SELECT event_id FROM ${DATABASE}.events
WHERE throwIf(match(event_id, '^v[fd]-') AND (SELECT count() FROM ${DATABASE}.view_allowed) = 0) = 0`,
    });
    const now = Date.now();
    const rows = (prefix: string) =>
      Array.from({ length: 50 }, (_, i) => ({
        event_id: `${prefix}-${i}`,
        type: 'verification',
        tenant: 'views',
        subject: `s${i % 7}`,
        time: Math.floor(now / 1000),
        time_ms: now + i,
        jti: `${prefix}-j${i}`,
      }));
    const viewRows = (prefix: string) =>
      scalar(a, `SELECT count() FROM ${DATABASE}.view_rows WHERE event_id LIKE '${prefix}-%'`);
    /** An insert that fails in the view, then its retry once the view lets it pass. */
    async function failThenRetry(client: ClickHouseClient, prefix: string) {
      await a.command({ query: `TRUNCATE TABLE ${DATABASE}.view_allowed` });
      const insert = () =>
        client.insert({ table: `${DATABASE}.events`, values: rows(prefix), format: 'JSONEachRow' });
      await expect(insert()).rejects.toThrow(/throwIf/);
      expect(await stored(a, prefix)).toBe(50); // the first attempt reached `events`
      await a.command({ query: `INSERT INTO ${DATABASE}.view_allowed VALUES (1)` });
      await insert();
    }

    // tokenwatch's own connection: the retry is stored again, collapses in `events`, reaches the views.
    const tokenwatch = createClickHouse(loadConfig(onCluster(cluster, A.url)).clickhouse);
    try {
      await failThenRetry(tokenwatch, 'vf');
    } finally {
      await tokenwatch.close();
    }
    expect(await viewRows('vf')).toBe(50);
    await expectEachOnce(a, 'vf', rows('vf'));
    await waitUntil('B has them', async () => ((await stored(b, 'vf')) === 50 ? true : undefined));
    await expectEachOnce(b, 'vf', rows('vf'));
    // ClickHouse's default (insert_deduplicate = 1) drops the retry whole: the view never gets its rows.
    await failThenRetry(a, 'vd');
    expect(await viewRows('vd')).toBe(0);
    await a.command({ query: `DROP TABLE ${DATABASE}.failing_view` });
  });

  /**
   * A service writing through A a steady Kafka stream of 20,000 events; once 3000 are stored,
   * `outage` takes a replica away and brings it back. Then every event is readable through both
   * replicas, once.
   */
  async function streamThrough(prefix: string, outage: (service: RunningService) => Promise<void>) {
    const setup = serviceSetup({ kafka: true, extra: { ...onCluster(cluster, A.url), ...STREAMING } });
    const service = await startService(setup.env);
    services.push(service);
    const events = makeEvents(20_000, { prefix });
    const streaming = stream(kafka, setup.topic, events);
    await waitUntil('a first part stored', async () =>
      (await stored(a, prefix)) >= 3000 ? true : undefined,
    );
    await outage(service);
    await streaming;
    for (const [name, c] of [
      ['A', a],
      ['B', b],
    ] as const) {
      await waitUntil(
        `every event readable through ${name}`,
        async () => ((await stored(c, prefix)) === events.length ? true : undefined),
        120_000,
      );
      await expectEachOnce(c, prefix, events);
    }
    await waitUntil('the service ready', async () =>
      (await fetch(`${service.url}/readyz`)).ok ? true : undefined,
    );
    expect(await service.stop()).toBe(0);
  }

  it('a service writes through A, B is killed mid-stream and restarted: B catches up to every event, once', async () => {
    await streamThrough('kb', async () => {
      await stopClusterReplica(B, 0);
      const atKill = await stored(a, 'kb');
      await waitUntil('more stored on A while B is down', async () =>
        (await stored(a, 'kb')) >= atKill + 3000 ? true : undefined,
      );
      await startClusterReplica(cluster, B);
    });
  });

  it('A, the replica written to, is killed mid-stream and restarted: the retries store every event, once', async () => {
    await streamThrough('ka', async (service) => {
      await stopClusterReplica(A, 0);
      await waitUntil('the service not ready', async () =>
        (await fetch(`${service.url}/readyz`)).status === 503 ? true : undefined,
      );
      await waitUntil('inserts failing', async () =>
        (await metric(service.url, 'tokenwatch_insert_failures_total')) > 0 ? true : undefined,
      );
      await startClusterReplica(cluster, A);
    });
  });

  it('a second service reading through B rebuilds the detectors: a replay of a rotation stored earlier is found', async () => {
    const setup = serviceSetup({
      kafka: true,
      extra: {
        ...onCluster(cluster, A.url),
        // no topic overlap on restart: the rotation can only come back from ClickHouse
        TOKENWATCH_DETECT_REBUILD_OVERLAP_SECONDS: '0',
        TOKENWATCH_RETENTION_DAYS: '3650',
      },
    });
    const first = await startService(setup.env);
    services.push(first);
    await produce(kafka, setup.topic, login('carol', 'rc', Date.now() - 60_000));
    await waitUntil('the login and rotation readable through B', async () =>
      (await scalar(b, `SELECT count() FROM ${eventsOf('rc')}`)) === 2 ? true : undefined,
    );
    expect(await first.stop()).toBe(0);

    const second = await startService({ ...setup.env, TOKENWATCH_CLICKHOUSE_URL: B.url });
    services.push(second);
    expect(
      await metric(second.url, 'tokenwatch_detector_events_total', { mode: 'warmup' }),
    ).toBeGreaterThanOrEqual(2);
    await produce(kafka, setup.topic, [replay('carol', 'rc', Date.now())]);
    // stored through B, read through A
    const finding = `${DATABASE}.detections FINAL WHERE subject = 'carol' AND detector = 'refresh_replay'`;
    await waitUntil(
      'the replay finding readable through A',
      async () => ((await scalar(a, `SELECT count() FROM ${finding}`)) === 1 ? true : undefined),
      30_000,
    );
    expect(await queryRows(a, `SELECT target_kind, target_id, trigger_event_id FROM ${finding}`)).toEqual([
      { target_kind: 'family', target_id: 'fam-rc', trigger_event_id: expect.stringMatching(/^rc-replay-/) },
    ]);
  });

  it("the dashboards' queries run on the cluster: seeded through A, read through B", async () => {
    const world = seededWorld();
    for (const [table, rows] of [['events', world.events] as const, ...world.tables])
      await a.insert({ table: `${DATABASE}.${table}`, values: rows, format: 'JSONEachRow' });
    await waitUntil('the seeded world readable through B', async () =>
      (await scalar(b, `SELECT count() FROM ${eventsOf('seed')}`)) === world.events.length &&
      (await scalar(b, `SELECT count() FROM ${DATABASE}.revocations`)) >= world.revocations.length
        ? true
        : undefined,
    );
    expect(await dashboardProblemsAt(B.url, DATABASE)).toEqual([]);
  });
});

/** The statements of the first SQL block of docs/clickhouse-cluster.md: the Distributed tables. */
function distributedTablesSql(): string[] {
  const doc = readFileSync(`${REPO_ROOT}docs/clickhouse-cluster.md`, 'utf8');
  const block = /```sql\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error('docs/clickhouse-cluster.md has no ```sql block');
  return block
    .split(/;\s*\n/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

describe('tokenwatch on several shards: Distributed tables in front of the local ones (docs/clickhouse-cluster.md)', () => {
  const LOCAL = 'tokenwatch_local';
  const DIST = 'tokenwatch';
  const t = clusterForTests('sharded', { shards: 2, replicas: 1 });
  const { services } = t;
  let cluster: ClickHouseCluster;
  let S1: ClusterReplica;
  let S2: ClusterReplica;
  let s1: ClickHouseClient;
  let s2: ClickHouseClient;
  beforeAll(() => {
    cluster = t.cluster;
    [S1, S2] = cluster.replicas as [ClusterReplica, ClusterReplica];
    [s1, s2] = t.clients as [ClickHouseClient, ClickHouseClient];
  });
  /** a tokenwatch on the Distributed tables, through the server at `url` */
  const onDistributed = (url: string) => ({
    TOKENWATCH_CLICKHOUSE_URL: url,
    TOKENWATCH_CLICKHOUSE_DATABASE: DIST,
    TOKENWATCH_CLICKHOUSE_CLUSTER: cluster.name,
    TOKENWATCH_RETENTION_DAYS: '3650',
  });
  /** rows through the Distributed table, as tokenwatch writes them (every shard stored its part) */
  const insert = (table: string, values: Record<string, unknown>[]) =>
    s2.insert({
      table: `${DIST}.${table}`,
      values,
      format: 'JSONEachRow',
      clickhouse_settings: { insert_distributed_sync: 1 },
    });
  const local = (c: ClickHouseClient, where: string) =>
    scalar(c, `SELECT count() FROM ${LOCAL}.events WHERE ${where}`);

  it('the local tables come from tokenwatch migrate, the Distributed ones from the SQL of the docs', async () => {
    const migrated = await migrateCli({
      TOKENWATCH_CLICKHOUSE_URL: S1.url,
      TOKENWATCH_CLICKHOUSE_DATABASE: LOCAL,
      TOKENWATCH_CLICKHOUSE_CLUSTER: cluster.name,
    });
    expect(migrated).toContain('"applied":[{"version":1');
    for (const query of distributedTablesSql()) await s1.command({ query });
    const engines = `SELECT engine, count() AS n FROM system.tables WHERE database = '${DIST}' GROUP BY engine`;
    for (const c of [s1, s2])
      expect(await queryRows(c, engines)).toEqual([{ engine: 'Distributed', n: '11' }]);

    // The services' start-up migration on the Distributed tables: nothing pending, nothing run…
    const features = featuresOf('18.16.1');
    const log = pino({ level: 'silent' });
    const o = { database: DIST, cluster: cluster.name, retentionDays: 3650 };
    expect((await migrate(s2, o, features, log)).alreadyApplied).toBe(MIGRATIONS.length);
    // …and a pending migration refused, saying what to do.
    const pending = { version: 999, name: 'pending', statements: () => ['SELECT 1'] };
    await expect(migrate(s2, o, features, log, [...MIGRATIONS, pending])).rejects.toThrow(
      /tokenwatch\.\w+ is a Distributed table .* run tokenwatch migrate with TOKENWATCH_CLICKHOUSE_DATABASE set to the database of the local tables/,
    );
  });

  it('a service on the Distributed tables stores every event once, each subject on one shard, and rebuilds its detectors through them', async () => {
    const setup = serviceSetup({ kafka: false, extra: onDistributed(S2.url) });
    const first = await startService(setup.env);
    services.push(first);
    const events = makeEvents(6000, { prefix: 'sh' });
    await postAll(first.url, events);
    expect((await postEvents(first.url, login('dora', 'sd', Date.now() - 60_000))).status).toBe(200);
    expect(await first.stop()).toBe(0);

    expect(await scalar(s1, `SELECT count() FROM ${DIST}.events FINAL WHERE event_id LIKE 'sh-%'`)).toBe(
      events.length,
    );
    expect(
      await scalar(s1, `SELECT uniqExact(event_id) FROM ${DIST}.events WHERE event_id LIKE 'sh-%'`),
    ).toBe(events.length);
    expect(
      await scalar(s1, `SELECT count() FROM ${DIST}.events_by_token FINAL WHERE event_id LIKE 'sh-%'`),
    ).toBe(tokenRows(events));
    const [one, two] = [await local(s1, "event_id LIKE 'sh-%'"), await local(s2, "event_id LIKE 'sh-%'")];
    expect(one).toBeGreaterThan(events.length / 4);
    expect(two).toBeGreaterThan(events.length / 4);
    expect(one + two).toBe(events.length);
    // no subject on both shards
    const subjects = (c: ClickHouseClient) =>
      queryRows<{ subject: string }>(
        c,
        `SELECT DISTINCT subject FROM ${LOCAL}.events WHERE event_id LIKE 'sh-%'`,
      );
    const onOne = new Set((await subjects(s1)).map((r) => r.subject));
    expect((await subjects(s2)).filter((r) => onOne.has(r.subject))).toEqual([]);

    // Restarted, its detectors rebuild from every shard's events; the replay is found and stored.
    const second = await startService(setup.env);
    services.push(second);
    expect(
      await metric(second.url, 'tokenwatch_detector_events_total', { mode: 'warmup' }),
    ).toBeGreaterThanOrEqual(events.length);
    expect((await postEvents(second.url, [replay('dora', 'sd', Date.now())])).status).toBe(200);
    const finding = `${DIST}.detections FINAL WHERE subject = 'dora' AND detector = 'refresh_replay'`;
    await waitUntil(
      'the replay finding stored',
      async () => ((await scalar(s1, `SELECT count() FROM ${finding}`)) === 1 ? true : undefined),
      30_000,
    );
  });

  it('retention drops the expired partitions of every shard through the Distributed tables', async () => {
    const day = 86_400;
    const now = Math.floor(Date.now() / 1000);
    await insert(
      'events',
      [now - 40 * day, now - 400 * day].flatMap((t, d) =>
        Array.from({ length: 20 }, (_, i) => ({
          event_id: `old-${d}-${i}`,
          type: 'refresh',
          tenant: 'retention',
          subject: `r${i}`,
          time: t,
          time_ms: t * 1000,
          received_at: t,
          received_ms: t * 1000,
          jti: `old-j${d}-${i}`,
        })),
      ),
    );
    const old = "event_id LIKE 'old-%'";
    expect(await local(s1, old)).toBeGreaterThan(0);
    expect(await local(s2, old)).toBeGreaterThan(0);
    const o = { database: DIST, cluster: cluster.name, retentionDays: 30 };
    // two old days in events, events_by_token and the two event rollups
    expect(await dropExpiredPartitions(s2, o, featuresOf('18.16.1'), pino({ level: 'silent' }))).toBe(8);
    expect([await local(s1, old), await local(s2, old)]).toEqual([0, 0]);
    expect(await scalar(s1, `SELECT count() FROM ${DIST}.events WHERE event_id LIKE 'sh-%'`)).toBeGreaterThan(
      0,
    );
  });

  it("the dashboards' queries run on the Distributed tables (Grafana's user with distributed_product_mode = 'local')", async () => {
    const world = seededWorld();
    for (const [table, rows] of [['events', world.events] as const, ...world.tables])
      await insert(table, rows);
    expect(await dashboardProblemsAt(S1.url, DIST, { distributed_product_mode: 'local' })).toEqual([]);
  });
});

describe('the cluster DDL on current ClickHouse (chdb)', () => {
  it('every statement of the cluster schema and of the docs parses there', async () => {
    // (chdb runs no ON CLUSTER queue and its Replicated tables stay read-only: parsing is what it can check)
    const features = await chdbFeatures();
    const o = { database: 'tw', cluster: 'tokenwatch', retentionDays: 30 };
    const statements = [...schemaStatements(o, features), ...distributedTablesSql()];
    const report = await chdb(
      [],
      statements.map((s) => `SELECT formatQuery(${quoteString(s)}) AS q`),
    );
    const failed = report.results.filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    const formatted = report.results.map((r) => String(r.rows?.[0]?.['q']));
    expect(
      formatted.filter((q) => /^(CREATE TABLE|ALTER TABLE)/.test(q) && !q.includes(' ON CLUSTER tokenwatch')),
    ).toEqual([]);
    expect(formatted.filter((q) => q.includes('ENGINE = Replicated')).length).toBe(11);
    expect(formatted.filter((q) => q.includes('TTL ')).length).toBe(10);
  });
});
