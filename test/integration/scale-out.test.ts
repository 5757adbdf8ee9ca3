/**
 * Verdicts do not depend on delivery order (DESIGN.md, "Scale"). Labelled traffic from the
 * simulator — 1,000 users over a morning, with two-tab races, retried refreshes, flights, phones on
 * carrier networks, the corporate VPN, and two attacks of each kind — recorded once, then:
 * - judged in event-time order by one detector runtime (as one process runs it): the reference;
 * - delivered through Kafka to two real tokenwatch instances (one consumer group: each holds half
 *   the partitions), every event up to the allowed lateness (5 min) late and 5% of them twice.
 * The two-instance run must find exactly what the reference finds — the same detectors on the same
 * targets of the same subjects — and refresh_replay must flag no benign user. (Arrival-order judging
 * flagged six benign users' families in this traffic: retries reported after the next rotation.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTRY } from '../../detectors/registry.ts';
import { SimClock } from '../../tools/simulator/clock.ts';
import { inTimeOrder, RecordingReporter, shuffled } from '../../tools/simulator/delivery.ts';
import { DETECTORS, evaluate, renderEvaluation, type StoredFinding } from '../../tools/simulator/evaluate.ts';
import { Executor } from '../../tools/simulator/executor.ts';
import { runLines, verdictOf } from '../../tools/simulator/in-process.ts';
import { VPN_EGRESS_CIDR } from '../../tools/simulator/places.ts';
import { startSimulatedPlatform } from '../../tools/simulator/platform.ts';
import { buildSimulation } from '../../tools/simulator/simulation.ts';
import {
  clickhouse,
  kafkaClient,
  metric,
  produce,
  queryRows,
  type RunningService,
  scalar,
  serviceSetup,
  startService,
  TENANT,
  waitUntil,
} from '../support/harness.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DURATION_MS = 4 * HOUR;
const LATENESS_MS = REGISTRY.defaults.allowedLatenessMs as number;

/** The latest Wednesday 06:00 UTC whose window ended at least an hour ago (the same plan every run). */
function lastWednesdayMorning(nowMs: number): number {
  let start = Math.floor(nowMs / DAY) * DAY + 6 * HOUR;
  while (new Date(start).getUTCDay() !== 3 || start + DURATION_MS > nowMs - HOUR) start -= DAY;
  return start;
}

const ch = clickhouse();
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  await ch.close();
});

describe('scale-out: two instances, out-of-order delivery', () => {
  it('finds what one in-order process finds, and no benign refresh replay', async () => {
    const startUtcMs = lastWednesdayMorning(Date.now());
    const sim = buildSimulation({
      seed: 'integration',
      users: 1000,
      travelPerDay: 0.5,
      durationMs: DURATION_MS,
      startUtcMs,
      attacksPerKind: 2,
      tenant: TENANT,
    });
    const clock = new SimClock(true, startUtcMs);
    const recording = new RecordingReporter();
    const platform = await startSimulatedPlatform({ reporter: recording, clock, tenant: TENANT });
    const executor = new Executor({
      users: sim.users,
      auth: platform.auth,
      api: platform.api,
      clock,
      concurrency: 16,
      seed: 'integration',
    });
    await executor.run(sim.steps);
    await platform.close();
    expect(executor.stats.errors, executor.stats.lastError).toBe(0);
    const events = recording.events;
    expect(events.length).toBeGreaterThan(10_000);

    // The reference: one runtime, every event once, in event-time order.
    const thresholds = { ...REGISTRY.defaults, allowlistCidrs: [VPN_EGRESS_CIDR] };
    const reference = runLines(
      inTimeOrder(events).map((e) => JSON.stringify(e)),
      thresholds,
    ).map(verdictOf);

    // Two instances of tokenwatch in Kafka mode, one consumer group.
    const setup = serviceSetup({
      kafka: true,
      extra: {
        TOKENWATCH_DETECT_DRY_RUN: DETECTORS.join(','),
        TOKENWATCH_DETECT_ALLOWLIST: VPN_EGRESS_CIDR,
        TOKENWATCH_MAX_EVENT_AGE_SECONDS: String(9 * 24 * 3600),
        TOKENWATCH_LOG_LEVEL: 'warn',
      },
    });
    const instances: RunningService[] = [];
    for (let i = 0; i < 2; i++) {
      const tw = await startService(setup.env);
      cleanup.push(() => tw.stop());
      instances.push(tw);
    }
    const delivered = shuffled(events, { latenessMs: LATENESS_MS, duplicates: 0.05, seed: 'scale-out' });
    expect(delivered.length).toBeGreaterThan(events.length);
    const kafka = kafkaClient();
    await produce(kafka, setup.topic, delivered as unknown as Record<string, unknown>[]);

    const db = setup.database;
    const examined = async () => {
      let n = 0;
      for (const tw of instances)
        n += await metric(tw.url, 'tokenwatch_detector_events_total', { mode: 'live' });
      return n;
    };
    await waitUntil(
      'every event stored and examined by the detectors of the two instances',
      async () =>
        (await scalar(ch, `SELECT count() FROM ${db}.events FINAL`)) >= events.length &&
        (await examined()) >= delivered.length,
      180_000,
    );
    // both instances took part
    for (const tw of instances)
      expect(await metric(tw.url, 'tokenwatch_detector_events_total', { mode: 'live' })).toBeGreaterThan(0);
    let found = -1;
    await waitUntil(
      'the findings to settle',
      async () => {
        const n = await scalar(ch, `SELECT count() FROM ${db}.detections FINAL`);
        const settled = n === found && n > 0;
        found = n;
        return settled;
      },
      60_000,
      2000,
    );

    const rows = await queryRows<
      StoredFinding & { target_kind: string; target_id: string; detected_ms: string; found_at_ms: string }
    >(
      ch,
      `SELECT detector, kind, tenant, subject, target_kind, target_id, evidence_ips, evidence_cities, detected_ms, found_at_ms
       FROM ${db}.detections FINAL WHERE tenant = '${TENANT}'`,
    );
    const got = rows.map((r) => verdictOf({ ...r, target: { kind: r.target_kind, id: r.target_id } }));
    expect([...new Set(got)].sort()).toEqual([...new Set(reference)].sort());

    const e = evaluate({
      labels: sim.labels,
      findings: rows.map((f) => ({
        ...f,
        detected_ms: Number(f.detected_ms),
        found_at_ms: Number(f.found_at_ms),
      })),
      startMs: startUtcMs,
      days: DURATION_MS / DAY,
      benignSubjects: sim.benignSubjects.length,
      wallTimeOf: (ms) => clock.wallTimeOf(ms),
    });
    const report = renderEvaluation(e);
    const replay = e.detectors.find((d) => d.detector === 'refresh_replay')!;
    expect(replay.falsePositives, report).toBe(0);
    expect(replay.recall, report).toBe(1);
  });
});
