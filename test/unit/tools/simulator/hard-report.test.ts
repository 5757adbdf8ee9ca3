/**
 * The hard cases' report: subjects with an alert and with a revocation per case, per 1,000 per
 * simulated day; a subject counts once however many findings; `alert_only` and `duplicate` are not
 * revocations; the goals say met or NOT met on both sides of their thresholds.
 */
import { describe, expect, it } from 'vitest';
import type { HardCaseLabel } from '../../../../tools/simulator/hard-cases.ts';
import { hardCaseReport, renderHardReport } from '../../../../tools/simulator/hard-report.ts';

const labels: HardCaseLabel[] = [
  ...Array.from({ length: 500 }, (_, i) => ({
    subject: `v${i}`,
    kind: 'consumer_vpn' as const,
    description: 'vpn',
  })),
  ...Array.from({ length: 500 }, (_, i) => ({
    subject: `r${i}`,
    kind: 'roaming_sim' as const,
    description: 'sim',
  })),
];
const attackKinds = [
  { kind: 'refresh_replay', attacks: 10, detected: 10, detectedByAny: 10 },
  { kind: 'access_clone', attacks: 10, detected: 10, detectedByAny: 10 },
];

describe('hard-case report', () => {
  it('counts subjects, not findings; revocations are decisions other than alert_only and duplicate', () => {
    const r = hardCaseReport(
      labels,
      [
        { subject: 'v1', detector: 'impossible_travel', response: 'dry_run' },
        { subject: 'v1', detector: 'impossible_travel', response: 'duplicate' },
        { subject: 'v2', detector: 'impossible_travel', response: 'alert_only' },
        { subject: 'v3', detector: 'device_reuse', response: 'duplicate' },
        { subject: 'someone-else', detector: 'impossible_travel', response: 'dry_run' },
      ],
      attackKinds,
      2,
    );
    const vpn = r.cases.find((c) => c.kind === 'consumer_vpn')!;
    expect(vpn).toMatchObject({
      subjects: 500,
      alerted: 3,
      revoked: 1,
      alertsPer1000PerDay: 3,
      revocationsPer1000PerDay: 1,
    });
    expect(vpn.detectors).toStrictEqual({ impossible_travel: 3, device_reuse: 1 });
    expect(r.cases.find((c) => c.kind === 'roaming_sim')).toMatchObject({ alerted: 0, revoked: 0 });
    const all = r.cases.at(-1)!;
    expect(all).toMatchObject({ kind: 'all hard cases', subjects: 1000, alerted: 3, revoked: 1 });
    expect(all.revocationsPer1000PerDay).toBe(0.5);
    expect(all.description).toBe('every case together');
    expect(r.goals.map((g) => g.met)).toStrictEqual([true, true, true]);
  });

  it('says NOT met above a threshold, and for a recall below 0.99', () => {
    const findings = Array.from({ length: 12 }, (_, i) => ({
      subject: `r${i}`,
      detector: 'impossible_travel',
      response: i < 2 ? 'dry_run' : 'alert_only',
    }));
    const r = hardCaseReport(
      labels,
      findings,
      [...attackKinds, { kind: 'xss_parallel', attacks: 10, detected: 9, detectedByAny: 10 }],
      1,
    );
    expect(r.goals.map((g) => [g.value, g.met])).toStrictEqual([
      [2, false],
      [12, false],
      [0.9, false],
    ]);
    const md = renderHardReport(r, attackKinds);
    expect(md).toContain('| roaming_sim | 500 | 12 (24.0) | 2 (4.0) | impossible_travel 12 | sim |');
    expect(md.match(/\*\*NOT met\*\*/g)).toHaveLength(3);
  });
});
