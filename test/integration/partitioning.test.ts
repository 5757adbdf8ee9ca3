/**
 * State that follows the partitioning (DESIGN.md, "Scale"), through two real instances in one
 * consumer group on real Kafka and ClickHouse:
 * - the rebuild on assignment reads only the assigned partitions' subjects (and its cost is
 *   measured beside reading every subject: printed, and in docs/detection.md);
 * - a signature flood from one address, against subjects on every partition, is detected once, at
 *   the threshold one process has (20 rejections: 20 are a burst, 19 from another address are not);
 * - messages on a partition their key does not put them on (no key, the subject alone as key) are
 *   re-routed and counted, and still count towards the flood; a re-routed copy misplaced again is
 *   dead-lettered `misrouted`, and the good messages beside it are stored.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTRY } from '../../detectors/registry.ts';
import { readHistory } from '../../detectors/run/history.ts';
import { partitionOfKey } from '../../platform/kafka/client.ts';
import { eventKey, REROUTED_HEADER } from '../../platform/kafka/keys.ts';
import { runLines } from '../../tools/simulator/in-process.ts';
import {
  clickhouse,
  kafkaClient,
  makeEvents,
  metric,
  produce,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';

const PARTITIONS = 4;
const FLOOD_IP = '198.51.100.7';
const BELOW_IP = '198.51.100.8';
const THRESHOLD = REGISTRY.defaults['burstThreshold'] as number;

const ch = clickhouse();
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  await ch.close();
});

/** `n` bad_signature verifications from `ip`, each against a subject of its own, a second apart. */
function flood(prefix: string, ip: string, n: number, nowMs: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    event_id: `${prefix}-${i}`,
    time: new Date(nowMs - (n - i) * 1000).toISOString(),
    tenant: TENANT,
    source: 'gateway-1',
    type: 'verification',
    outcome: 'rejected',
    reason: 'bad_signature',
    subject: `${prefix}-victim-${i}`,
    jti: `${prefix}-jti-${i}`,
    ip,
    user_agent: 'python-requests/2.31',
    alg: 'RS256',
    kid: 'k1',
  }));
}

/** The JSON log lines of an instance with this message. */
function logLines(tw: RunningService, msg: string): Record<string, unknown>[] {
  return tw
    .output()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface QueryLogRow {
  read_rows: string;
  read_bytes: string;
  result_rows: string;
  query_duration_ms: string;
}

async function queryLog(queryId: string): Promise<QueryLogRow> {
  let row: QueryLogRow | undefined;
  await waitUntil(`the query ${queryId} in system.query_log`, async () => {
    await ch.command({ query: 'SYSTEM FLUSH LOGS' });
    [row] = await queryRows<QueryLogRow>(
      ch,
      `SELECT read_rows, read_bytes, result_rows, query_duration_ms FROM system.query_log
       WHERE query_id = '${queryId}' AND type = 2 LIMIT 1`,
    );
    return row !== undefined;
  });
  return row!;
}

describe('partitioning: state that follows the partitions, two instances', () => {
  it('rebuilds the assigned partitions only, detects a flood once, and re-routes misrouted messages', async () => {
    const setup = serviceSetup({
      kafka: true,
      extra: { TOKENWATCH_KAFKA_TOPIC_PARTITIONS: String(PARTITIONS), TOKENWATCH_LOG_LEVEL: 'info' },
    });
    const db = setup.database;
    const kafka = kafkaClient();
    const start = async () => {
      const tw = await startService(setup.env);
      cleanup.push(() => tw.stop());
      return tw;
    };

    // History: 20,000 events of 997 subjects, stored through the first instance alone.
    const a = await start();
    const background = makeEvents(20_000, { prefix: unique('bg') });
    await produce(kafka, setup.topic, background);
    await waitUntil(
      'the history stored',
      async () => (await scalar(ch, `SELECT count() FROM ${db}.events FINAL`)) >= background.length,
      120_000,
    );
    // Each row is filed under its subject's partition (murmur2 of tenant:subject), among 4.
    const filed = await queryRows<{ p: number; n: string }>(
      ch,
      `SELECT kafka_partition AS p, count() AS n FROM ${db}.events FINAL WHERE kafka_partitions = ${PARTITIONS} GROUP BY p ORDER BY p`,
    );
    expect(filed.reduce((s, r) => s + Number(r.n), 0)).toBe(background.length);
    const [sample] = await queryRows<{ tenant: string; subject: string; kafka_partition: number }>(
      ch,
      `SELECT tenant, subject, kafka_partition FROM ${db}.events LIMIT 1`,
    );
    expect(sample!.kafka_partition).toBe(
      partitionOfKey(eventKey(sample!.tenant, sample!.subject), PARTITIONS),
    );

    // The second instance joins: it rebuilds the partitions it is given, and reads their subjects alone.
    const b = await start();
    await waitUntil(
      'the second instance to rebuild its partitions',
      async () => logLines(b, 'detector state rebuilt').some((l) => Number(l['partitions']) > 0),
      60_000,
    );
    const rebuilt = logLines(b, 'detector state rebuilt').find((l) => Number(l['partitions']) > 0)!;
    const given = (rebuilt['historyPartitions'] as Record<string, number[]>)[String(PARTITIONS)] ?? [];
    expect(given.length).toBeGreaterThan(0);
    expect(given.length).toBeLessThan(PARTITIONS);
    const theirs = filed.filter((r) => given.includes(r.p)).reduce((s, r) => s + Number(r.n), 0);
    expect(rebuilt['storedEventsRead']).toBe(theirs);
    expect(rebuilt['kept']).toBe(theirs);
    expect(theirs).toBeLessThan(background.length);

    // Its cost beside reading every subject (as before): what ClickHouse scanned and sent, and the time.
    const nowS = Math.floor(Date.now() / 1000);
    const range = { familiesFromS: nowS - 14 * 86_400, tokensFromS: nowS - 86_400 };
    const all = await readHistory(ch, db, range, () => undefined);
    const mine = await readHistory(
      ch,
      db,
      { ...range, partitions: new Map([[PARTITIONS, given]]) },
      () => undefined,
    );
    const [allLog, mineLog, serviceLog] = await Promise.all([
      queryLog(all.queryId),
      queryLog(mine.queryId),
      queryLog(String(rebuilt['historyQueryId'])),
    ]);
    expect(Number(serviceLog.result_rows)).toBe(theirs);
    expect(mine.read).toBe(theirs);
    expect(all.read).toBe(background.length);
    console.log(
      `rebuild cost, ${background.length} stored events, partitions ${given.join(',')} of ${PARTITIONS}:\n` +
        `  all subjects:        ${all.read} rows sent, ${allLog.read_rows} rows / ${allLog.read_bytes} bytes scanned, ${allLog.query_duration_ms} ms in ClickHouse, ${all.ms} ms read\n` +
        `  assigned partitions: ${mine.read} rows sent, ${mineLog.read_rows} rows / ${mineLog.read_bytes} bytes scanned, ${mineLog.query_duration_ms} ms in ClickHouse, ${mine.ms} ms read\n` +
        `  the instance's own rebuild: ${rebuilt['storedEventsRead']} rows, ${rebuilt['historyMs']} ms read, ${serviceLog.read_rows} rows scanned`,
    );

    // The flood: 20 rejections from one address against 20 subjects (spread over every partition),
    // two of them misrouted; 19 from another address. One process finds the first alone.
    const nowMs = Date.now();
    const flooded = flood(unique('flood'), FLOOD_IP, THRESHOLD, nowMs);
    const below = flood(unique('below'), BELOW_IP, THRESHOLD - 1, nowMs);
    const reference = runLines(
      [...flooded, ...below].map((e) => JSON.stringify(e)),
      REGISTRY.defaults,
    ).filter((d) => d.target.kind === 'source_ip');
    expect(reference.map((d) => d.target.id)).toEqual([FLOOD_IP]);

    const home = (e: Record<string, unknown>) =>
      partitionOfKey(eventKey(String(e['tenant']), String(e['subject'])), PARTITIONS);
    const [noKey, subjectKey, ...rest] = flooded;
    const producer = kafka.producer();
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    await producer.send({
      topic: setup.topic,
      acks: -1,
      messages: [
        { partition: (home(noKey!) + 1) % PARTITIONS, key: null, value: JSON.stringify(noKey) },
        {
          partition: (home(subjectKey!) + 1) % PARTITIONS,
          key: String(subjectKey!['subject']),
          value: JSON.stringify(subjectKey),
        },
      ],
    });
    await produce(kafka, setup.topic, [...rest, ...below]);

    const sum = async (name: string, labels: Record<string, string> = {}) =>
      (await metric(a.url, name, labels)) + (await metric(b.url, name, labels));
    await waitUntil(
      'every flood event run by its address’s owner',
      async () =>
        (await sum('tokenwatch_detector_address_events_total', { mode: 'live' })) >=
        flooded.length + below.length,
      60_000,
    );
    // both instances owned some of the flood's subjects: each saw part of it, and sent it on
    for (const tw of [a, b])
      expect(await metric(tw.url, 'tokenwatch_detector_address_forwarded_total')).toBeGreaterThan(0);
    expect(await sum('tokenwatch_misrouted_events_total', { action: 'rerouted' })).toBe(2);
    expect(await sum('tokenwatch_misrouted_events_total', { cause: 'missing_key' })).toBe(1);
    expect(await sum('tokenwatch_misrouted_events_total', { cause: 'wrong_key' })).toBe(1);

    await waitUntil(
      'the flood’s finding stored',
      async () =>
        (await scalar(
          ch,
          `SELECT count() FROM ${db}.detections FINAL WHERE target_kind = 'source_ip' AND target_id = '${FLOOD_IP}'`,
        )) > 0,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 3000)); // a second finding, if any, would be here by now
    const bursts = await queryRows<{ target_id: string; evidence: string }>(
      ch,
      `SELECT target_id, evidence FROM ${db}.detections FINAL WHERE target_kind = 'source_ip'`,
    );
    expect(bursts.map((r) => r.target_id)).toEqual([FLOOD_IP]);
    expect((JSON.parse(bursts[0]!.evidence) as { count: number }).count).toBe(THRESHOLD);

    // A re-routed copy on the wrong partition again: dead-lettered, the good messages beside it stored.
    const [bounced, ...good] = makeEvents(6, { prefix: unique('bounce') });
    const bouncedKey = eventKey(String(bounced!['tenant']), String(bounced!['subject']));
    await producer.send({
      topic: setup.topic,
      acks: -1,
      messages: [
        {
          partition: (partitionOfKey(bouncedKey, PARTITIONS) + 1) % PARTITIONS,
          key: bouncedKey,
          value: JSON.stringify(bounced),
          headers: { [REROUTED_HEADER]: `${setup.topic}/0/0` },
        },
      ],
    });
    await produce(kafka, setup.topic, good);
    await waitUntil(
      'the misplaced copy dead-lettered',
      async () => (await scalar(ch, `SELECT count() FROM ${db}.dead_letters WHERE code = 'misrouted'`)) === 1,
      30_000,
    );
    const [letter] = await queryRows<{ message: string; payload: string }>(
      ch,
      `SELECT message, payload FROM ${db}.dead_letters WHERE code = 'misrouted'`,
    );
    expect(letter!.message).toMatch(/other_partitioner.*4 partitions/);
    expect(JSON.parse(letter!.payload)['event_id']).toBe(bounced!['event_id']);
    expect(await sum('tokenwatch_misrouted_events_total', { action: 'dead_lettered' })).toBe(1);
    const ids = [bounced, ...good].map((e) => `'${String(e!['event_id'])}'`).join(', ');
    await waitUntil(
      'the good messages (and the bounced one) stored',
      async () =>
        (await scalar(ch, `SELECT count() FROM ${db}.events FINAL WHERE event_id IN (${ids})`)) ===
        good.length + 1,
      30_000,
    );
  });
});
