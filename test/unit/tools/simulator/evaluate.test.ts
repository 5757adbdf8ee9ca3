/** Detection quality from hand-built labels and findings: attribution, the rates, goals, the report. */
import { describe, expect, it } from 'vitest';
import {
  belongsTo,
  DETECTORS,
  type EvaluationInput,
  evaluate,
  renderEvaluation,
  type StoredFinding,
} from '../../../../tools/simulator/evaluate.ts';
import type { AttackLabel } from '../../../../tools/simulator/steps.ts';

const S = 1000;
const MIN = 60 * S;
const START = Date.UTC(2025, 2, 4, 6);
const SLACK = 15 * MIN;

const label = (o: Partial<AttackLabel> & Pick<AttackLabel, 'id' | 'kind' | 'subject'>): AttackLabel => ({
  tenant: 'acme',
  startAt: 10 * MIN,
  endAt: 12 * MIN,
  ips: [],
  expected: [],
  description: `${o.kind} on ${o.subject}`,
  ...o,
});

const REPLAY = label({
  id: 'A1-refresh_replay',
  kind: 'refresh_replay',
  subject: 'victim-1',
  startAt: 10 * MIN,
  endAt: 12 * MIN,
  ips: ['203.0.113.7'],
  expected: ['refresh_replay'],
});
const XSS = label({
  id: 'A2-xss_parallel',
  kind: 'xss_parallel',
  subject: 'victim-2',
  startAt: 60 * MIN,
  endAt: 65 * MIN,
  ips: ['198.51.100.9'],
  expected: ['impossible_travel'],
});
const FORGED = label({
  id: 'A3-alg_none',
  kind: 'alg_none',
  subject: 'victim-3',
  startAt: 120 * MIN,
  endAt: 120 * MIN,
  ips: ['192.0.2.5'],
  expected: ['verification_anomaly'],
});
const LABELS = [REPLAY, XSS, FORGED];

/** A stored finding detected at simulated `at` (ms since the start), found 250 ms of wall time later. */
const finding = (
  detector: string,
  subject: string,
  at: number,
  ips: string[] = [],
  tenant = 'acme',
): StoredFinding => ({
  detector,
  kind: `${detector} finding`,
  tenant,
  subject,
  evidence_ips: ips,
  evidence_cities: ips.map(() => 'Somewhere'),
  detected_ms: START + at,
  found_at_ms: START + at + 1000 + 250,
});

const input = (findings: StoredFinding[], o: Partial<EvaluationInput> = {}): EvaluationInput => ({
  labels: LABELS,
  findings,
  startMs: START,
  days: 0.5,
  benignSubjects: 4000,
  // the simulated clock reached each moment a second after it on the wall clock
  wallTimeOf: (ms) => (ms >= START ? ms + 1000 : undefined),
  ...o,
});

const of = (e: ReturnType<typeof evaluate>, detector: string) =>
  e.detectors.find((d) => d.detector === detector)!;

describe('belongsTo', () => {
  it('the victim named within the window (a minute before the first request to the slack after the last)', () => {
    expect(belongsTo(finding('refresh_replay', 'victim-1', 10 * MIN + 30 * S), REPLAY, START)).toBe(true);
    expect(belongsTo(finding('refresh_replay', 'victim-1', 10 * MIN - 59 * S), REPLAY, START)).toBe(true);
    expect(belongsTo(finding('refresh_replay', 'victim-1', 12 * MIN + SLACK), REPLAY, START)).toBe(true);
    expect(belongsTo(finding('refresh_replay', 'victim-1', 10 * MIN - 61 * S), REPLAY, START)).toBe(false);
    expect(belongsTo(finding('refresh_replay', 'victim-1', 12 * MIN + SLACK + 1), REPLAY, START)).toBe(false);
    expect(belongsTo(finding('refresh_replay', 'victim-1', 12 * MIN + 2 * MIN), REPLAY, START, MIN)).toBe(
      false,
    );
  });

  it("an attacker's address in the evidence, whoever the subject, within the window", () => {
    expect(
      belongsTo(finding('verification_anomaly', '', 120 * MIN + 5 * S, ['192.0.2.5']), FORGED, START),
    ).toBe(true);
    expect(
      belongsTo(
        finding('verification_anomaly', 'someone', 120 * MIN, ['10.0.0.1', '192.0.2.5']),
        FORGED,
        START,
      ),
    ).toBe(true);
    expect(
      belongsTo(finding('verification_anomaly', 'someone', 120 * MIN, ['192.0.2.6']), FORGED, START),
    ).toBe(false);
    expect(
      belongsTo(finding('verification_anomaly', 'someone', 140 * MIN, ['192.0.2.5']), FORGED, START),
    ).toBe(false);
  });

  it("the victim and the attacker's address together: any time after the attack began", () => {
    // the victim's next request from a place that is not allowlisted came an hour after the attacker's
    const late = finding('impossible_travel', 'victim-2', 65 * MIN + 2 * 60 * MIN, [
      '198.51.100.9',
      '1.2.3.4',
    ]);
    expect(belongsTo(late, XSS, START)).toBe(true);
    expect(belongsTo({ ...late, detected_ms: START + 58 * MIN }, XSS, START)).toBe(false);
  });

  it("another tenant's subject of the same name is not the victim", () => {
    expect(belongsTo(finding('refresh_replay', 'victim-1', 10 * MIN, [], 'other'), REPLAY, START)).toBe(
      false,
    );
  });
});

describe('evaluate', () => {
  it('precision, recall and false positives per 1,000 benign subjects per day', () => {
    const e = evaluate(
      input([
        finding('refresh_replay', 'victim-1', 10 * MIN + 30 * S), // TP by subject
        finding('verification_anomaly', '', 120 * MIN + 5 * S, ['192.0.2.5']), // TP by address
        finding('impossible_travel', 'victim-2', 65 * MIN + SLACK + 1), // after the window: FP
        finding('impossible_travel', 'user-00042', 62 * MIN, ['8.8.8.8']), // nobody attacked: FP
        finding('impossible_travel', 'victim-2', 61 * MIN, ['198.51.100.9']), // TP
      ]),
    );
    expect(e.detectors.map((d) => d.detector)).toStrictEqual([...DETECTORS]);
    expect(of(e, 'refresh_replay')).toMatchObject({
      findings: 1,
      truePositives: 1,
      falsePositives: 0,
      precision: 1,
      expectedAttacks: 1,
      detectedAttacks: 1,
      recall: 1,
      fpPer1000SubjectsPerDay: 0,
      missed: [],
    });
    const travel = of(e, 'impossible_travel');
    expect(travel).toMatchObject({
      findings: 3,
      truePositives: 1,
      falsePositives: 2,
      falselyFlaggedSubjects: 2,
      expectedAttacks: 1,
      detectedAttacks: 1,
      recall: 1,
    });
    expect(travel.precision).toBeCloseTo(1 / 3, 10);
    // 2 subjects over 4,000 benign ones over half a day
    expect(travel.fpPer1000SubjectsPerDay).toBeCloseTo(1.0, 10);
    expect(travel.falsePositiveSamples).toHaveLength(2);
    expect(travel.falsePositiveSamples.join('\n')).toContain('user-00042 from 8.8.8.8 (Somewhere)');
    expect(of(e, 'verification_anomaly')).toMatchObject({ precision: 1, recall: 1, detectedAttacks: 1 });
    // no findings: no precision; nothing expected: no recall
    expect(of(e, 'device_reuse')).toMatchObject({
      findings: 0,
      precision: null,
      recall: null,
      expectedAttacks: 0,
    });
  });

  it('one false alarm per subject however many of its findings; the rate scales with subjects and days', () => {
    const twoOnOne = [
      finding('impossible_travel', 'user-1', 5 * MIN),
      finding('impossible_travel', 'user-1', 300 * MIN),
    ];
    const e = evaluate(input(twoOnOne));
    expect(of(e, 'impossible_travel')).toMatchObject({ falsePositives: 2, falselyFlaggedSubjects: 1 });
    expect(of(e, 'impossible_travel').fpPer1000SubjectsPerDay).toBeCloseTo(0.5, 10);
    const oneDay = evaluate(input(twoOnOne, { days: 1, benignSubjects: 1000 }));
    expect(of(oneDay, 'impossible_travel').fpPer1000SubjectsPerDay).toBeCloseTo(1, 10);
    expect(
      of(evaluate(input(twoOnOne, { benignSubjects: 0 })), 'impossible_travel').fpPer1000SubjectsPerDay,
    ).toBe(0);
  });

  it('a missed attack: recall below 1, named with its description; found by another detector only', () => {
    const e = evaluate(input([finding('verification_anomaly', 'victim-2', 62 * MIN)]));
    expect(of(e, 'impossible_travel')).toMatchObject({ recall: 0, detectedAttacks: 0, expectedAttacks: 1 });
    expect(of(e, 'impossible_travel').missed).toStrictEqual(['A2-xss_parallel: xss_parallel on victim-2']);
    expect(of(e, 'refresh_replay').missed).toStrictEqual(['A1-refresh_replay: refresh_replay on victim-1']);
    // a finding of the wrong detector belongs to the attack (no false positive) but does not count as detected
    expect(of(e, 'verification_anomaly')).toMatchObject({ falsePositives: 0, recall: 0 });
    expect(e.attackKinds.find((k) => k.kind === 'xss_parallel')).toStrictEqual({
      kind: 'xss_parallel',
      attacks: 1,
      detected: 0,
      detectedByAny: 1,
    });
    expect(e.attackKinds.find((k) => k.kind === 'refresh_replay')).toMatchObject({
      detected: 0,
      detectedByAny: 0,
    });
  });

  it("time to detect: from the attack's first request to the earliest detecting event; latency on the wall clock", () => {
    const e = evaluate(
      input([
        finding('refresh_replay', 'victim-1', 10 * MIN + 45 * S),
        finding('refresh_replay', 'victim-1', 10 * MIN + 90 * S),
        finding('impossible_travel', 'victim-2', 60 * MIN - 30 * S), // before the first request: 0, not negative
      ]),
    );
    expect(of(e, 'refresh_replay').timeToDetectS).toStrictEqual({ p50: 45, max: 45 });
    expect(of(e, 'impossible_travel').timeToDetectS).toStrictEqual({ p50: 0, max: 0 });
    expect(of(e, 'refresh_replay').findingLatencyMs).toStrictEqual({ p50: 250, p95: 250, max: 250 });
    expect(of(e, 'device_reuse').timeToDetectS).toBeNull();
    // moments the clock had not sampled yet have no latency
    const unsampled = evaluate(
      input([finding('refresh_replay', 'victim-1', 11 * MIN)], { wallTimeOf: () => undefined }),
    );
    expect(of(unsampled, 'refresh_replay').findingLatencyMs).toBeNull();
    expect(of(unsampled, 'refresh_replay').timeToDetectS).toStrictEqual({ p50: 60, max: 60 });
  });

  it('goals: met and unmet', () => {
    const good = evaluate(
      input([
        finding('refresh_replay', 'victim-1', 11 * MIN),
        finding('impossible_travel', 'victim-2', 61 * MIN),
        finding('impossible_travel', 'user-1', 300 * MIN),
        finding('impossible_travel', 'user-2', 300 * MIN), // 2 subjects: 1.0 per 1,000 per day, still within
      ]),
    );
    expect(good.goals.map((g) => [g.goal, g.value, g.met])).toStrictEqual([
      ['refresh_replay precision = 1.0', 1, true],
      ['refresh_replay recall = 1.0', 1, true],
      ['impossible_travel recall ≥ 0.95', 1, true],
      ['impossible_travel ≤ 1 false positive per 1,000 benign subjects per day', 1, true],
    ]);
    const bad = evaluate(
      input([
        finding('refresh_replay', 'user-9', 11 * MIN),
        finding('impossible_travel', 'user-1', 300 * MIN),
        finding('impossible_travel', 'user-2', 300 * MIN),
        finding('impossible_travel', 'user-3', 300 * MIN),
      ]),
    );
    expect(bad.goals.map((g) => g.met)).toStrictEqual([false, false, false, false]);
    expect(bad.goals[0]!.value).toBe(0);
    expect(bad.goals[2]!.value).toBe(0);
    expect(bad.goals[3]!.value).toBeCloseTo(1.5, 10);
    // no findings at all: no precision, and the goal on it not met
    expect(evaluate(input([])).goals[0]).toMatchObject({ value: null, met: false });
  });

  it('renderEvaluation: a row per detector and attack kind, the goals, what was missed and the false positives', () => {
    const e = evaluate(
      input([
        finding('refresh_replay', 'victim-1', 11 * MIN),
        finding('impossible_travel', 'user-00042', 300 * MIN, ['8.8.8.8']),
      ]),
    );
    const md = renderEvaluation(e);
    for (const d of DETECTORS) expect(md).toMatch(new RegExp(`^\\| ${d} \\|`, 'm'));
    for (const k of ['refresh_replay', 'xss_parallel', 'alg_none'])
      expect(md).toMatch(new RegExp(`^\\| ${k} \\| 1 \\|`, 'm'));
    for (const g of e.goals) expect(md).toContain(`| ${g.goal} |`);
    expect(md).toContain('| refresh_replay precision = 1.0 | 1.00 | yes |');
    expect(md).toContain('| impossible_travel recall ≥ 0.95 | 0.00 | **no** |');
    expect(md).toContain('- missed by impossible_travel: A2-xss_parallel: xss_parallel on victim-2');
    expect(md).toContain(
      '- false positive of impossible_travel: impossible_travel finding — user-00042 from 8.8.8.8 (Somewhere)',
    );
  });
});
