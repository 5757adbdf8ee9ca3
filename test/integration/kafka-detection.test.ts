/**
 * The detectors on real Kafka and ClickHouse: a replayed refresh token is found within a second;
 * a detector killed after a rotation and restarted still finds the replay (state rebuilt from
 * ClickHouse); two instances in one group with a rebalance between rotation and replay report
 * each replay exactly once. Each Kafka event is decoded and validated once, for its row and the
 * detectors alike; a backlog is stored in full inserts while the detectors run it.
 * Single-process mode detects in process and rebuilds on start too.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Detection } from '../../detectors/detection.ts';
import { partitionOfKey } from '../../platform/kafka/client.ts';
import {
  clickhouse,
  kafkaClient,
  makeEvents,
  metric,
  postEvents,
  produce,
  READ_KEY,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  TENANT,
  unique,
  waitUntil,
} from '../support/harness.ts';
import { login, replay } from '../support/refresh-story.ts';

/** Reads the findings topic from the beginning, keeping every detection with when it arrived. */
async function readFindings(kafka: Kafka, topic: string) {
  const seen: { detection: Detection; atMs: number }[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: unique('findings-reader'), maxWaitTimeInMs: 50 });
  await consumer.connect();
  await waitUntil('the findings topic', async () => {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    return true;
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push({ detection: JSON.parse(message.value!.toString()) as Detection, atMs: Date.now() });
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}

async function getDetections(url: string, query: string, key = READ_KEY) {
  const res = await fetch(`${url}/v1/detections?${query}`, { headers: { authorization: `Bearer ${key}` } });
  return {
    status: res.status,
    body: (await res.json()) as { detections: Detection[]; truncated: boolean; message?: string },
  };
}

describe('detection on Kafka and ClickHouse', () => {
  const ch = clickhouse();
  const kafka = kafkaClient();
  const running: RunningService[] = [];
  const readers: { stop: () => Promise<void> }[] = [];
  afterAll(async () => {
    for (const r of readers) await r.stop();
    for (const s of running) if (s.child.exitCode === null) await s.stop();
    await ch.close();
  });

  it('finds a replayed refresh token within a second, stores it and serves it', async () => {
    const setup = serviceSetup({ kafka: true });
    const service = await startService(setup.env);
    running.push(service);
    const findings = await readFindings(kafka, `${setup.topic}.findings`);
    readers.push(findings);

    const now = Date.now();
    await produce(kafka, setup.topic, login('alice', 'a1', now - 120_000));
    await waitUntil('the rotation seen by the detectors', async () =>
      (await metric(service.url, 'tokenwatch_detector_events_total', { mode: 'live' })) >= 2
        ? true
        : undefined,
    );
    const sentAt = Date.now();
    await produce(kafka, setup.topic, [replay('alice', 'a1', sentAt)]);
    const first = await waitUntil(
      'the replay finding on the findings topic',
      async () => findings.seen.find((f) => f.detection.detector === 'refresh_replay'),
      10_000,
      10,
    );
    const latencyMs = first.atMs - sentAt;
    expect(latencyMs).toBeLessThan(1000);
    expect(first.detection).toMatchObject({
      detector: 'refresh_replay',
      kind: 'rotated refresh token presented again',
      severity: 'critical',
      action: 'revoke_family',
      dry_run: false,
      tenant: TENANT,
      subject: 'alice',
      target: { kind: 'family', id: 'fam-a1' },
      first_event_ms: now - 120_000,
      detected_ms: sentAt,
      trigger_event_id: `a1-replay-${sentAt}`,
    });
    expect(first.detection.evidence.events.map((e) => [e.country, e.device_id])).toEqual([
      ['DE', 'laptop'],
      ['BR', 'attacker'],
    ]);

    // From another country and another device, so the other detectors see it too.
    await waitUntil('the detections stored', async () =>
      (await scalar(ch, `SELECT count() FROM ${setup.database}.detections`)) === 3 ? true : undefined,
    );
    expect(findings.seen.map((f) => `${f.detection.detector}:${f.detection.target.kind}`).sort()).toEqual([
      'device_reuse:family',
      'impossible_travel:family',
      'refresh_replay:family',
    ]);
    expect(
      await metric(service.url, 'tokenwatch_findings_total', {
        detector: 'refresh_replay',
        severity: 'critical',
      }),
    ).toBe(1);
    expect(
      await metric(service.url, 'tokenwatch_detection_latency_seconds_count', { detector: 'refresh_replay' }),
    ).toBe(1);

    const api = await getDetections(service.url, `subject=alice&detector=refresh_replay`);
    expect(api.status).toBe(200);
    expect(api.body.detections).toHaveLength(1);
    expect((await getDetections(service.url, 'subject=alice')).body.detections).toHaveLength(3);
    expect(api.body.detections[0]).toMatchObject({
      detection_id: first.detection.detection_id,
      evidence: { same_client: false, compared_by: 'device' },
    });
    expect((await getDetections(service.url, 'subject=bob')).body.detections).toEqual([]);
    expect(
      (await getDetections(service.url, `from=${sentAt + 1}&to=${sentAt + 60_000}`)).body.detections,
    ).toEqual([]);
    // Write keys cannot read; a tenant's key reads only its tenant; bad input is explained.
    const unauthorized = await fetch(`${service.url}/v1/detections`, {
      headers: { authorization: 'Bearer test-key-0123456789abcdef' },
    });
    expect(unauthorized.status).toBe(401);
    expect((await getDetections(service.url, 'detector=teleport')).status).toBe(400);
    const badTime = await getDetections(service.url, 'from=yesterday');
    expect(badTime.status).toBe(400);
    expect(badTime.body.message).toContain('from must be an RFC 3339 date-time or epoch milliseconds');
  });

  it('decodes and validates each Kafka event once, for its row and for the detectors alike', async () => {
    const setup = serviceSetup({ kafka: true });
    const service = await startService(setup.env);
    running.push(service);
    const now = Date.now();
    const events = [...login('frank', 'f1', now - 60_000), ...login('grace', 'g1', now - 60_000)];
    await produce(kafka, setup.topic, events);
    await waitUntil('the events stored and run live by the detectors', async () => {
      const stored = await scalar(
        ch,
        `SELECT count() FROM ${setup.database}.events FINAL WHERE subject IN ('frank', 'grace')`,
      );
      const live = await metric(service.url, 'tokenwatch_detector_events_total', { mode: 'live' });
      return stored === events.length && live === events.length ? true : undefined;
    });
    expect(await metric(service.url, 'tokenwatch_events_validated_total')).toBe(events.length);
  });

  it('stores a backlog in full inserts at once with the detectors on: pieces waiting for their rows do not hold the consumer back', async () => {
    // One partition, inserts of 5,000 rows, and a timer that fires only after the test: the backlog
    // is stored only if the consumer keeps handing batches to the batcher while the earlier rows
    // wait for their insert to fill. (A version that held each batch until its rows were stored, 16
    // pieces of 256 at most, never filled an insert.) What is left below one insert waits for the timer.
    const setup = serviceSetup({
      kafka: true,
      extra: {
        TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '1',
        TOKENWATCH_BATCH_MAX_ROWS: '5000',
        TOKENWATCH_BATCH_MAX_WAIT_MS: '600000',
      },
    });
    const service = await startService(setup.env);
    running.push(service);
    const events = makeEvents(10_000, { prefix: unique('backlog') });
    await produce(kafka, setup.topic, events);
    await waitUntil(
      'the backlog run live by the detectors, and stored but for less than one insert',
      async () => {
        const stored = await scalar(ch, `SELECT count() FROM ${setup.database}.events`);
        const live = await metric(service.url, 'tokenwatch_detector_events_total', { mode: 'live' });
        return live === events.length && stored > events.length - 5000 ? true : undefined;
      },
      45_000,
    );
  });

  it('still finds the replay after the detector is killed after the rotation and restarted', async () => {
    // No topic overlap on restart: the rotation can only come back from ClickHouse.
    const setup = serviceSetup({ kafka: true, extra: { TOKENWATCH_DETECT_REBUILD_OVERLAP_SECONDS: '0' } });
    const first = await startService(setup.env);
    running.push(first);
    const now = Date.now();
    await produce(kafka, setup.topic, login('carol', 'c1', now - 60_000));
    await waitUntil('the rotation stored and its offset committed by the detectors', async () => {
      const stored = await scalar(ch, `SELECT count() FROM ${setup.database}.events WHERE subject = 'carol'`);
      const admin = kafka.admin();
      await admin.connect();
      const [offsets] = await admin.fetchOffsets({ groupId: `${setup.topic}-detect`, topics: [setup.topic] });
      await admin.disconnect();
      const committed = offsets!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      return stored === 2 && committed === 2 ? true : undefined;
    });
    await first.kill();

    const second = await startService(setup.env);
    running.push(second);
    const findings = await readFindings(kafka, `${setup.topic}.findings`);
    readers.push(findings);
    await produce(kafka, setup.topic, [replay('carol', 'c1', Date.now())]);
    const replays = () => findings.seen.filter((f) => f.detection.detector === 'refresh_replay');
    const found = await waitUntil('the replay found after the restart', async () => replays()[0], 20_000);
    expect(found.detection).toMatchObject({
      detector: 'refresh_replay',
      subject: 'carol',
      target: { id: 'fam-c1' },
    });
    expect(
      await metric(second.url, 'tokenwatch_detector_events_total', { mode: 'warmup' }),
    ).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1500));
    expect(replays()).toHaveLength(1);
  });

  it('reports each replay exactly once with two instances and a rebalance between rotation and replay', async () => {
    const setup = serviceSetup({ kafka: true });
    const a = await startService(setup.env);
    running.push(a);
    const findings = await readFindings(kafka, `${setup.topic}.findings`);
    readers.push(findings);
    // Subjects on every partition of the topic (4), so some move to the new instance.
    const subjects: string[] = [];
    for (let i = 0; subjects.length < 8; i++) {
      const s = `user-${i}`;
      if (
        subjects.filter((x) => partitionOfKey(`${TENANT}:${x}`, 4) === partitionOfKey(`${TENANT}:${s}`, 4))
          .length < 2
      )
        subjects.push(s);
    }
    const now = Date.now();
    await produce(
      kafka,
      setup.topic,
      subjects.flatMap((s, i) => login(s, `r${i}`, now - 60_000)),
    );
    await waitUntil('every rotation seen by instance A', async () =>
      (await metric(a.url, 'tokenwatch_detector_events_total', { mode: 'live' })) >= 16 ? true : undefined,
    );

    const b = await startService(setup.env);
    running.push(b);
    await waitUntil('A rebalanced and ready', async () =>
      (await fetch(`${a.url}/readyz`)).ok ? true : undefined,
    );
    await produce(
      kafka,
      setup.topic,
      subjects.map((s, i) => replay(s, `r${i}`, Date.now())),
    );
    const replays = () => findings.seen.filter((f) => f.detection.detector === 'refresh_replay');
    await waitUntil(
      'a replay finding per subject',
      async () => (replays().length >= subjects.length ? true : undefined),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(
      replays()
        .map((f) => f.detection.subject)
        .sort(),
    ).toEqual([...subjects].sort());
    // Each replay also trips impossible_travel and device_reuse: three findings per subject, none twice.
    expect(findings.seen).toHaveLength(3 * subjects.length);
    expect(new Set(findings.seen.map((f) => f.detection.detection_id)).size).toBe(3 * subjects.length);
    expect(await scalar(ch, `SELECT count() FROM ${setup.database}.detections`)).toBe(3 * subjects.length);
    const byA = await metric(a.url, 'tokenwatch_findings_total', { detector: 'refresh_replay' });
    const byB = await metric(b.url, 'tokenwatch_findings_total', { detector: 'refresh_replay' });
    expect(byA + byB).toBe(subjects.length);
    expect(byB).toBeGreaterThan(0); // some subjects' partitions moved, and B rebuilt their state
  });

  it('detects in process in single-process mode, and rebuilds from ClickHouse on restart', async () => {
    const setup = serviceSetup({ kafka: false });
    const first = await startService(setup.env);
    running.push(first);
    const now = Date.now();
    expect((await postEvents(first.url, login('dave', 'd1', now - 60_000))).status).toBe(200);
    await first.stop();

    const second = await startService(setup.env);
    running.push(second);
    expect((await postEvents(second.url, [replay('dave', 'd1', Date.now())])).status).toBe(200);
    const api = await waitUntil('the detection served', async () => {
      const r = await getDetections(second.url, 'subject=dave&detector=refresh_replay');
      return r.body.detections.length > 0 ? r : undefined;
    });
    expect(api.body.detections[0]).toMatchObject({ detector: 'refresh_replay', target: { id: 'fam-d1' } });
  });
});
