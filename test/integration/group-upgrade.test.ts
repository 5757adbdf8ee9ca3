/**
 * Upgrading from two consumer groups (the ingest's and the detectors') to the one consumer in the
 * detectors' group, on real Kafka and ClickHouse. The old groups' offsets are set as an older
 * version left them (commits without metadata): where the ingest stored further than the
 * detectors ran, the rest is detected live and not stored again; where the detectors ran further
 * than the ingest stored, the rest is stored and only rebuilds state (no finding reported again).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { partitionOfKey, setGroupOffset } from '../../platform/kafka/client.ts';
import {
  clickhouse,
  kafkaClient,
  metric,
  produce,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  TENANT,
  waitUntil,
} from '../support/harness.ts';
import { login, replay } from '../support/refresh-story.ts';

const PARTITIONS = 4; // the harness' TOKENWATCH_KAFKA_TOPIC_PARTITIONS

describe('upgrade from an ingest group and a detectors group', () => {
  const ch = clickhouse();
  const kafka = kafkaClient();
  const running: RunningService[] = [];
  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null) await s.stop();
    await ch.close();
  });

  /** A rotation and its replay (offsets 0, 1, 2 of the subject's partition), the old groups' offsets set. */
  async function oldDeployment(subject: string, offsets: { ingest: bigint; detect: bigint }) {
    // The whole topic within the overlap: nothing is stored in ClickHouse for the rebuild to read.
    const setup = serviceSetup({ kafka: true, extra: { TOKENWATCH_DETECT_REBUILD_OVERLAP_SECONDS: '600' } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: setup.topic, numPartitions: PARTITIONS }] });
    await admin.disconnect();
    const now = Date.now();
    await produce(kafka, setup.topic, [
      ...login(subject, subject, now - 60_000),
      replay(subject, subject, now),
    ]);
    const partition = partitionOfKey(`${TENANT}:${subject}`, PARTITIONS);
    await setGroupOffset(kafka, `${setup.topic}-ingest`, setup.topic, partition, offsets.ingest);
    await setGroupOffset(kafka, `${setup.topic}-detect`, setup.topic, partition, offsets.detect);
    return setup;
  }

  const stored = (db: string, subject: string) =>
    scalar(ch, `SELECT count() FROM ${db}.events FINAL WHERE subject = '${subject}'`);
  const replays = (db: string, subject: string) =>
    scalar(
      ch,
      `SELECT count() FROM ${db}.detections FINAL WHERE subject = '${subject}' AND detector = 'refresh_replay'`,
    );

  it('detects live what the ingest had stored and the detectors not yet run, and stores none of it again', async () => {
    const setup = await oldDeployment('ivan', { ingest: 3n, detect: 2n });
    const service = await startService(setup.env);
    running.push(service);
    await waitUntil('the replay detected', async () =>
      (await replays(setup.database, 'ivan')) === 1 ? true : undefined,
    );
    expect(await stored(setup.database, 'ivan')).toBe(0);
    expect(
      await metric(service.url, 'tokenwatch_detector_events_total', { mode: 'warmup' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('stores what the detectors had run and the ingest not yet stored, and reports none of it again', async () => {
    const setup = await oldDeployment('judy', { ingest: 0n, detect: 3n });
    const service = await startService(setup.env);
    running.push(service);
    await waitUntil('the three events stored and re-read for state', async () =>
      (await stored(setup.database, 'judy')) === 3 &&
      (await metric(service.url, 'tokenwatch_detector_events_total', { mode: 'warmup' })) >= 3
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(await replays(setup.database, 'judy')).toBe(0);
  });
});
