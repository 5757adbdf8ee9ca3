import { describe, expect, it } from 'vitest';
import { detectionId } from '../../../../detectors/detection.ts';
import { REGISTRY } from '../../../../detectors/registry.ts';
import { DetectorRuntime, type RuntimeOptions } from '../../../../detectors/run/runtime.ts';
import { TenantThresholds } from '../../../../detectors/thresholds.ts';
import { createMetrics } from '../../../../ingest/metrics.ts';
import { ev, HOUR, MINUTE, PLACES, SECOND, T0 } from '../helpers.ts';

const rotation = (at: number, subject = 'alice', extra = {}) =>
  ev({
    at,
    subject,
    type: 'refresh',
    outcome: 'rotated',
    family_id: `fam-${subject}`,
    token_id: 'rt-0',
    new_token_id: 'rt-1',
    device_id: 'laptop',
    ...extra,
  });
const replayOf = (at: number, subject = 'alice') =>
  rotation(at, subject, { new_token_id: 'rt-x', device_id: 'attacker', place: PLACES.saoPaulo });

function runtime(options: Partial<RuntimeOptions> = {}) {
  return new DetectorRuntime({
    thresholds: new TenantThresholds(REGISTRY.defaults),
    dryRun: new Set<string>(),
    maxKeys: 100_000,
    now: () => T0 + HOUR,
    ...options,
  });
}

describe('DetectorRuntime', () => {
  it('reports live findings as detections: a stable id, the wall-clock time, the dry-run flag', () => {
    const rt = runtime({ dryRun: new Set(['impossible_travel']) });
    expect(rt.process(rotation(T0), 'live')).toEqual([]);
    const found = rt.process(replayOf(T0 + MINUTE), 'live');
    expect(found.map((d) => [d.detector, d.dry_run]).sort()).toEqual([
      ['device_reuse', false],
      ['impossible_travel', true],
      ['refresh_replay', false],
    ]);
    for (const d of found) {
      expect(d.detection_id).toBe(detectionId(d));
      expect(d.detection_id).toMatch(/^[0-9a-f]{32}$/);
      expect(d.found_at_ms).toBe(T0 + HOUR);
    }
  });

  it('warms up without reporting, and what warm-up saw is not reported again when delivered live', () => {
    const rt = runtime();
    const rot = rotation(T0);
    const replay = replayOf(T0 + MINUTE);
    expect(rt.process(rot, 'warmup')).toEqual([]);
    expect(rt.process(replay, 'warmup')).toEqual([]);
    // The same events re-read from the topic after a restart: already reported before it.
    expect(rt.process({ ...rot }, 'live')).toEqual([]);
    expect(rt.process({ ...replay }, 'live')).toEqual([]);
    // A new replay after the dedup window is new.
    expect(rt.process(replayOf(T0 + 20 * MINUTE), 'live').length).toBeGreaterThan(0);
  });

  it('finds a replay whose rotation came from warm-up (state rebuilt from history)', () => {
    const rt = runtime();
    rt.process(rotation(T0), 'warmup');
    expect(rt.process(replayOf(T0 + MINUTE), 'live').map((d) => d.detector)).toContain('refresh_replay');
  });

  it('keeps subjects apart and thresholds per tenant', () => {
    const rt = runtime({
      thresholds: new TenantThresholds(REGISTRY.defaults, { lenient: { graceWindowMs: 5 * MINUTE } }),
    });
    const sameDeviceLater = (tenant: string) => [
      { ...rotation(T0), tenant },
      { ...rotation(T0 + 2 * MINUTE, 'alice', { new_token_id: 'rt-1b' }), tenant },
    ];
    const detect = (tenant: string) =>
      sameDeviceLater(tenant).flatMap((e) => rt.process(e, 'live').map((d) => d.detector));
    expect(detect('acme')).toEqual(['refresh_replay']);
    expect(detect('lenient')).toEqual([]);
  });

  it('evicts the least recently seen subjects past the key cap, and counts it', async () => {
    const metrics = createMetrics();
    const rt = runtime({ maxKeys: 1000, metrics });
    for (let i = 0; i < 3000; i++) rt.process(ev({ at: T0 + i, subject: `u${i}`, jti: `j${i}` }), 'live');
    expect(rt.stats.keys).toBeLessThanOrEqual(1000);
    expect(rt.stats.evicted).toBeGreaterThan(1900);
    // The newest subjects are kept: a cloned token of the last one is still caught.
    const last = ev({ at: T0 + 3000, subject: 'u2999', jti: 'j2999', device_id: 'd1' });
    rt.process(last, 'live');
    const clone = ev({ at: T0 + 3001, subject: 'u2999', jti: 'j2999', device_id: 'd2' });
    expect(rt.process(clone, 'live').map((d) => d.detector)).toContain('device_reuse');
    expect((await metrics.stateEvictions.get()).values[0]?.value).toBe(rt.stats.evicted);
    expect((await metrics.stateMaxKeys.get()).values[0]?.value).toBe(1000);
  });

  it("one tenant's flood of subjects evicts its own oldest state, never the quiet tenant's", () => {
    const rt = runtime({ maxKeys: 1000 });
    for (let i = 0; i < 100; i++)
      rt.process(
        ev({ at: T0 + i, tenant: 'quiet', subject: `q${i}`, jti: `qj${i}`, device_id: 'd1' }),
        'live',
      );
    // Subjects with no token at all count too (a flood of rejections from forged tokens).
    for (let i = 0; i < 5000; i++)
      rt.process(
        ev({
          at: T0 + 200 + i,
          tenant: 'noisy',
          subject: `n${i}`,
          jti: '',
          type: 'verification',
          outcome: 'rejected',
          reason: 'bad_signature',
        }),
        'live',
      );
    const stats = rt.tenantStats();
    expect(stats.get('quiet')).toMatchObject({ subjects: 100, keys: 100 });
    expect(stats.get('noisy')!.subjects).toBeLessThan(900);
    expect(rt.stats.subjects + rt.stats.keys).toBeLessThanOrEqual(1000);
    // The quiet tenant's state still catches a clone.
    const clone = ev({ at: T0 + 9000, tenant: 'quiet', subject: 'q0', jti: 'qj0', device_id: 'd2' });
    expect(rt.process(clone, 'live').map((d) => d.detector)).toContain('device_reuse');
  });

  it('never throws out of process: an event the detectors fail on is counted and skipped', () => {
    const failures: string[] = [];
    const rt = runtime({ onFailure: (input) => failures.push(input.event_id) });
    const poisoned = { ...ev({ at: T0, jti: 'j' }), event_id: 'poison' };
    Object.defineProperty(poisoned, 'ip', {
      get() {
        throw new Error('boom');
      },
    });
    expect(rt.process(poisoned, 'live')).toEqual([]);
    expect(failures).toEqual(['poison']);
    expect(rt.stats.failures).toBe(1);
    expect(rt.process(rotation(T0), 'live')).toEqual([]);
  });

  it('forgets tokens at their exp, families after their lifetime, and then the subject', () => {
    const rt = runtime({ now: () => T0 + 30 * 24 * HOUR });
    const expS = Math.floor((T0 + 15 * MINUTE) / 1000);
    rt.process(ev({ at: T0, jti: 'short', exp: expS }), 'live');
    rt.process(rotation(T0), 'live');
    expect(rt.stats.keys).toBe(2); // the jti and the family
    rt.process(ev({ at: T0 + 20 * MINUTE, subject: 'bob', jti: 'b1' }), 'live');
    rt.sweep();
    expect(rt.stats).toMatchObject({ subjects: 2, keys: 2 }); // alice's jti expired, her family stays
    rt.process(ev({ at: T0 + 15 * 24 * HOUR, subject: 'carol', jti: 'c1' }), 'live');
    rt.sweep();
    expect(rt.stats).toMatchObject({ subjects: 1, keys: 1 }); // only carol is left
  });

  it('does not let a future-dated event expire everything (the clock is capped at now + 5 min)', () => {
    const rt = runtime({ now: () => T0 });
    rt.process(rotation(T0), 'live');
    rt.process(ev({ at: T0 + 30 * 24 * HOUR, subject: 'skewed', jti: 'x' }), 'live');
    rt.sweep();
    expect(rt.stats.watermarkMs).toBe(T0 + 5 * MINUTE);
    expect(rt.process(replayOf(T0 + MINUTE), 'live').map((d) => d.detector)).toContain('refresh_replay');
  });

  it('drops the subjects another instance now owns', () => {
    const rt = runtime();
    for (const s of ['a', 'b', 'c']) rt.process(ev({ at: T0, subject: s, jti: `j-${s}` }), 'live');
    expect(rt.forget((_tenant, subject) => subject !== 'b')).toBe(1);
    expect(rt.stats).toMatchObject({ subjects: 2, keys: 2 });
  });

  it('counts revocation hits, and ignores event types it does not know', async () => {
    const metrics = createMetrics();
    const rt = runtime({ metrics });
    rt.process(ev({ at: T0, outcome: 'rejected', reason: 'revoked', jti: 'j' }), 'live');
    rt.process(ev({ at: T0 + SECOND, outcome: 'rejected', reason: 'revoked', jti: 'j' }), 'warmup');
    expect((await metrics.revocationHits.get()).values).toEqual([
      expect.objectContaining({ labels: { type: 'verification' }, value: 1 }),
    ]);
    expect(rt.process({ ...ev({ at: T0 }), type: 'teleport' }, 'live')).toEqual([]);
  });

  it('finds per address with N owners what one process finds: subjects split, addresses apart', () => {
    // A flood of bad signatures and a forgery from one address, against 24 subjects that two
    // instances own half each; the events the per-source parts read go to the address's owner.
    const flood = [
      ...Array.from({ length: 24 }, (_, i) =>
        ev({
          at: T0 + i * SECOND,
          subject: `u${i}`,
          outcome: 'rejected',
          reason: 'bad_signature',
          place: PLACES.tokyo,
        }),
      ),
      ev({
        at: T0 + 30 * SECOND,
        subject: 'u1',
        outcome: 'rejected',
        reason: 'alg_not_allowed',
        alg: 'none',
        place: PLACES.tokyo,
      }),
      ev({ at: T0 + 31 * SECOND, subject: 'u2', jti: 'j2' }), // accepted: no address state
    ];
    const one = runtime();
    const whole = flood.flatMap((e) => one.process(e, 'live'));
    const owners = [runtime(), runtime()];
    const address = runtime();
    const split: typeof whole = [];
    for (const e of flood) {
      const owner = owners[Number(e.subject.slice(1)) % 2]!;
      split.push(...owner.process(e, 'live', 'subject'));
      if (owner.readsSource(e)) split.push(...address.process({ ...e }, 'live', 'source'));
    }
    const view = (ds: typeof whole) =>
      ds.map((d) => [d.detection_id, d.kind, d.target, d.evidence['count'] ?? 1]).sort();
    expect(view(split)).toEqual(view(whole));
    expect(whole.map((d) => [d.kind, d.target.id, d.evidence['count'] ?? 1]).sort()).toEqual([
      ['burst of rejected tokens per source IP', PLACES.tokyo.ip, 20],
      ['forged token: algorithm not allowed', PLACES.tokyo.ip, 1],
    ]);
    // Each owner alone sees 12 of the 24: under the threshold of 20.
    for (const o of owners) expect(o.stats).toMatchObject({ sources: 0 });
    expect(address.stats).toMatchObject({ subjects: 0, sources: 1 });
    expect(address.forgetSources(() => true)).toBe(0);
    expect(address.forgetSources((_tenant, ip) => ip !== PLACES.tokyo.ip)).toBe(1);
    expect(address.stats.sources).toBe(0);
  });
});
