/**
 * The traffic simulator through the real pipeline, as `npm run eval` runs it but small: tokenwatch
 * (single-process mode, every detector in dry-run, the simulated VPN's egress allowlisted) on the
 * test ClickHouse, the reference auth server in this process on a simulated clock, SDK verifiers
 * beside it, both reporting over HTTP. Half a day of 150 users (every other one flying somewhere)
 * with two attacks of each kind, played as fast as the machine allows; then the findings stored
 * against the labels:
 * - every event the SDK sent is stored, none refused;
 * - refresh replays: precision 1, recall 1;
 * - every attack found by the detector it expects;
 * - no impossible-travel finding on benign traffic (flights, phones on carrier networks, the VPN).
 *
 * The simulated window always starts on a Wednesday at 06:00 UTC (the latest one over before now),
 * so the plan — who is awake, who is attacked — is the same whenever the test runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpReporter } from '../../sdk/src/index.ts';
import { ATTACK_KINDS } from '../../tools/simulator/attacks.ts';
import { SimClock } from '../../tools/simulator/clock.ts';
import {
  DETECTORS,
  evaluate,
  NOT_ATTACKED,
  renderEvaluation,
  type StoredFinding,
} from '../../tools/simulator/evaluate.ts';
import { Executor } from '../../tools/simulator/executor.ts';
import { VPN_EGRESS_CIDR } from '../../tools/simulator/places.ts';
import { startSimulatedPlatform } from '../../tools/simulator/platform.ts';
import { buildSimulation } from '../../tools/simulator/simulation.ts';
import {
  API_KEY,
  clickhouse,
  metric,
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
const DURATION_MS = 12 * HOUR;

/** The latest Wednesday 06:00 UTC whose window ended at least an hour ago. */
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

describe('the simulator through the real pipeline', () => {
  it('every event stored; replays found with precision and recall 1, every attack by its detector, no false impossible travel', async () => {
    const startUtcMs = lastWednesdayMorning(Date.now());
    const setup = serviceSetup({
      kafka: false,
      extra: {
        TOKENWATCH_DETECT_DRY_RUN: DETECTORS.join(','),
        TOKENWATCH_DETECT_ALLOWLIST: VPN_EGRESS_CIDR,
        // up to a week and a day back: the window is last Wednesday's
        TOKENWATCH_MAX_EVENT_AGE_SECONDS: String(9 * 24 * 3600),
        TOKENWATCH_LOG_LEVEL: 'warn',
      },
    });
    const tw: RunningService = await startService(setup.env);
    cleanup.push(() => tw.stop());
    const db = setup.database;

    const sim = buildSimulation({
      seed: 'integration',
      users: 150,
      // every other user flies somewhere on the day: benign travel that must not look impossible
      travelPerDay: 0.5,
      durationMs: DURATION_MS,
      startUtcMs,
      attacksPerKind: 2,
      tenant: TENANT,
    });
    expect(sim.labels.length, 'two attacks of each of the six kinds').toBe(12);
    // the hard negatives are there: flights, phones on carrier networks, the VPN
    const kinds = new Set(sim.steps.filter((s) => s.kind === 'call').map((s) => s.net.kind));
    expect([...kinds].sort()).toStrictEqual(['home', 'hotel', 'mobile', 'office', 'vpn']);

    const clock = new SimClock(true, startUtcMs);
    const reporter = createHttpReporter({ url: tw.url, apiKey: API_KEY, maxQueue: 200_000 });
    cleanup.push(() => reporter.close());
    const platform = await startSimulatedPlatform({ reporter, clock, tenant: TENANT });
    cleanup.push(() => platform.close());
    const executor = new Executor({
      users: sim.users,
      auth: platform.auth,
      api: platform.api,
      clock,
      concurrency: 16,
      seed: 'integration',
    });

    await executor.run(sim.steps);
    expect(executor.stats.errors, executor.stats.lastError).toBe(0);
    expect(executor.stats.steps).toBe(sim.steps.length);
    // tokens lived their lives: browsers woke with expired ones, logouts revoked some, forgeries refused
    expect(executor.stats.rejected).toMatchObject({
      expired: expect.any(Number),
      revoked: expect.any(Number),
      bad_signature: expect.any(Number),
    });
    await reporter.flush(60_000);
    const sent = reporter.stats();
    expect(sent.queued).toBe(0);
    expect(sent.dropped).toStrictEqual({ queue_full: 0, refused: 0, closed: 0 });
    expect(sent.sent).toBe(sent.reported);

    // Every event stored and run through the detectors, and every finding of theirs stored.
    let stored = 0;
    await waitUntil(
      'every event stored',
      async () => {
        stored = await scalar(ch, `SELECT count() FROM ${db}.events FINAL`);
        return stored >= sent.sent;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${stored} of ${sent.sent} stored`);
    });
    expect(stored).toBe(sent.sent);
    expect(await scalar(ch, `SELECT count() FROM ${db}.dead_letters`)).toBe(0);
    await waitUntil(
      'every finding stored',
      async () => {
        const examined = await metric(tw.url, 'tokenwatch_detector_events_total', { mode: 'live' });
        const found = await metric(tw.url, 'tokenwatch_findings_total');
        const rows = await scalar(ch, `SELECT count() FROM ${db}.detections FINAL`);
        return examined >= sent.sent && rows === found;
      },
      60_000,
    );

    const findings = (
      await queryRows<StoredFinding & { detected_ms: string; found_at_ms: string }>(
        ch,
        `SELECT detector, kind, tenant, subject, evidence_ips, evidence_cities, detected_ms, found_at_ms
         FROM ${db}.detections FINAL WHERE tenant = '${TENANT}'`,
      )
    ).map((f) => ({ ...f, detected_ms: Number(f.detected_ms), found_at_ms: Number(f.found_at_ms) }));
    const e = evaluate({
      labels: sim.labels,
      findings,
      startMs: startUtcMs,
      days: DURATION_MS / DAY,
      benignSubjects: sim.benignSubjects.length,
      wallTimeOf: (ms) => clock.wallTimeOf(ms),
    });
    const report = renderEvaluation(e);
    console.log(
      `${sim.steps.length} steps, ${executor.stats.calls} calls, ${sent.sent} events, ${findings.length} findings\n${report}`,
    );

    const q = (d: string) => e.detectors.find((x) => x.detector === d)!;
    expect(q('refresh_replay').precision, report).toBe(1);
    expect(q('refresh_replay').recall, report).toBe(1);
    for (const d of DETECTORS.filter((x) => !NOT_ATTACKED.includes(x))) {
      expect(q(d).expectedAttacks, d).toBeGreaterThan(0);
      expect(q(d).missed, `missed by ${d}\n${report}`).toStrictEqual([]);
    }
    // a detector no simulated attack exercises yet must stay quiet on the whole benign world
    for (const d of NOT_ATTACKED) expect(q(d).falsePositives, `${d}\n${report}`).toBe(0);
    expect(e.attackKinds.map((k) => k.kind).sort()).toStrictEqual([...ATTACK_KINDS].sort());
    for (const k of e.attackKinds) expect(k.detected, `${k.kind}\n${report}`).toBe(k.attacks);
    expect(q('impossible_travel').falsePositives, report).toBe(0);
  });
});
