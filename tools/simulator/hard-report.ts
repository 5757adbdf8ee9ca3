/**
 * The hard benign cases' report (`npm run eval -- --hard`): per case, how many of its subjects got
 * an alert (any finding) and a revocation (a finding the response stage decided to revoke for; in
 * the eval's dry run, "would revoke"), per 1,000 subjects per simulated day, beside every attack
 * kind's recall; and the issue's goals with met / NOT met. Pure.
 */
import type { AttackKindQuality } from './evaluate.ts';
import type { HardCaseLabel } from './hard-cases.ts';

/** A stored finding as far as this report needs it. */
export interface DecidedFinding {
  subject: string;
  detector: string;
  /** the response stage's decision: `alert_only`, `duplicate`, or a revocation status (`dry_run`…) */
  response: string;
}

export interface HardCaseQuality {
  kind: string;
  description: string;
  subjects: number;
  alerted: number;
  revoked: number;
  alertsPer1000PerDay: number;
  revocationsPer1000PerDay: number;
  /** which detectors flagged this case's subjects (findings) */
  detectors: Record<string, number>;
}

export interface HardGoal {
  goal: string;
  value: number | null;
  met: boolean;
}

export interface HardReport {
  cases: HardCaseQuality[];
  goals: HardGoal[];
}

/** Decisions that are not a revocation of their own. */
const NOT_REVOKING = new Set(['', 'alert_only', 'duplicate']);
export const REVOCATIONS_GOAL_PER_1000 = 1;
export const ALERTS_GOAL_PER_1000 = 5;
export const RECALL_GOAL = 0.99;

const per1000 = (n: number, subjects: number, days: number) =>
  subjects === 0 ? 0 : n / (subjects / 1000) / days;

export function hardCaseReport(
  labels: readonly HardCaseLabel[],
  findings: readonly DecidedFinding[],
  attackKinds: readonly AttackKindQuality[],
  days: number,
): HardReport {
  const bySubject = new Map<string, DecidedFinding[]>();
  for (const f of findings) bySubject.set(f.subject, [...(bySubject.get(f.subject) ?? []), f]);
  const kinds = [...new Set(labels.map((l) => l.kind))];
  const quality = (kind: string, mine: readonly HardCaseLabel[]): HardCaseQuality => {
    const found = mine.map((l) => bySubject.get(l.subject) ?? []);
    const alerted = found.filter((fs) => fs.length > 0).length;
    const revoked = found.filter((fs) => fs.some((f) => !NOT_REVOKING.has(f.response))).length;
    const detectors: Record<string, number> = {};
    for (const f of found.flat()) detectors[f.detector] = (detectors[f.detector] ?? 0) + 1;
    return {
      kind,
      description: mine[0]?.description ?? '',
      subjects: mine.length,
      alerted,
      revoked,
      alertsPer1000PerDay: per1000(alerted, mine.length, days),
      revocationsPer1000PerDay: per1000(revoked, mine.length, days),
      detectors,
    };
  };
  const cases = kinds.map((k) =>
    quality(
      k,
      labels.filter((l) => l.kind === k),
    ),
  );
  const all = { ...quality('all hard cases', labels), description: 'every case together' };
  const lowestRecall = attackKinds.reduce<number | null>(
    (min, k) => Math.min(min ?? 1, k.attacks === 0 ? 1 : k.detected / k.attacks),
    null,
  );
  const goals: HardGoal[] = [
    {
      goal: `benign subjects with a revocation ≤ ${REVOCATIONS_GOAL_PER_1000} per 1,000 per simulated day (all hard cases)`,
      value: all.revocationsPer1000PerDay,
      met: all.revocationsPer1000PerDay <= REVOCATIONS_GOAL_PER_1000,
    },
    {
      goal: `benign subjects with an alert ≤ ${ALERTS_GOAL_PER_1000} per 1,000 per simulated day (all hard cases)`,
      value: all.alertsPer1000PerDay,
      met: all.alertsPer1000PerDay <= ALERTS_GOAL_PER_1000,
    },
    {
      goal: `every attack kind's recall ≥ ${RECALL_GOAL} (the lowest)`,
      value: lowestRecall,
      met: lowestRecall !== null && lowestRecall >= RECALL_GOAL,
    },
  ];
  return { cases: [...cases, all], goals };
}

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number | null) => (v === null ? '–' : v.toFixed(2));

/** The report as markdown tables. */
export function renderHardReport(r: HardReport, attackKinds: readonly AttackKindQuality[]): string {
  return [
    '| benign case | subjects | with an alert (per 1,000 per day) | with a revocation (per 1,000 per day) | findings by detector | what it is |',
    '|---|---:|---:|---:|---|---|',
    ...r.cases.map(
      (c) =>
        `| ${c.kind} | ${c.subjects} | ${c.alerted} (${f1(c.alertsPer1000PerDay)}) | ${c.revoked} (${f1(c.revocationsPer1000PerDay)}) | ${
          Object.entries(c.detectors)
            .map(([d, n]) => `${d} ${n}`)
            .join(', ') || '–'
        } | ${c.description} |`,
    ),
    '',
    '| attack | attacks | recall (found by the expected detector) | found by any detector |',
    '|---|---:|---:|---:|',
    ...attackKinds.map(
      (k) =>
        `| ${k.kind} | ${k.attacks} | ${f2(k.attacks === 0 ? null : k.detected / k.attacks)} (${k.detected}) | ${k.detectedByAny} |`,
    ),
    '',
    '| goal | value | met |',
    '|---|---:|:---:|',
    ...r.goals.map((g) => `| ${g.goal} | ${f2(g.value)} | ${g.met ? 'met' : '**NOT met**'} |`),
  ].join('\n');
}
