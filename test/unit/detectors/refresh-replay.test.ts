import { describe, expect, it } from 'vitest';
import { detectRefreshReplay } from '../../../detectors/refresh-replay.ts';
import type { DetectorEvent } from '../../../detectors/types.ts';
import { ev, MINUTE, PLACES, type Place, run, SECOND, T0 } from './helpers.ts';

const rotate = (
  at: number,
  from: string,
  to: string,
  extra: Partial<DetectorEvent> & { place?: Place } = {},
) =>
  ev({
    at,
    type: 'refresh',
    family_id: 'fam-1',
    token_id: from,
    new_token_id: to,
    outcome: 'rotated',
    reason: 'ok',
    device_id: 'laptop',
    ...extra,
  });
const issue = ev({
  at: T0 - MINUTE,
  type: 'issuance',
  family_id: 'fam-1',
  token_id: 'rt-0',
  device_id: 'laptop',
});

const detect = (events: DetectorEvent[], settings = {}) =>
  run(detectRefreshReplay, [issue, ...events], settings).findings;

describe('refresh_replay: replay', () => {
  it.each([
    [
      'replayed from another country minutes later',
      [
        rotate(T0, 'rt-0', 'rt-1'),
        rotate(T0 + 2 * MINUTE, 'rt-0', 'rt-x', { place: PLACES.saoPaulo, device_id: 'attacker' }),
      ],
      'critical',
    ],
    [
      'another device inside the grace window',
      [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + 5 * SECOND, 'rt-0', 'rt-x', { device_id: 'phone-2' })],
      'critical',
    ],
    [
      'the same device, but after the grace window',
      [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + 2 * MINUTE, 'rt-0', 'rt-x')],
      'high',
    ],
    [
      'a token two generations back, inside the grace window',
      [
        rotate(T0, 'rt-0', 'rt-1'),
        rotate(T0 + 2 * SECOND, 'rt-1', 'rt-2'),
        rotate(T0 + 4 * SECOND, 'rt-0', 'rt-x'),
      ],
      'high',
    ],
    [
      'without device ids: another network inside the grace window',
      [
        rotate(T0, 'rt-0', 'rt-1', { device_id: '' }),
        rotate(T0 + 3 * SECOND, 'rt-0', 'rt-x', { device_id: '', place: PLACES.berlinOtherIsp }),
      ],
      'critical',
    ],
    [
      'without device ids: same network, another user agent',
      [
        rotate(T0, 'rt-0', 'rt-1', { device_id: '' }),
        rotate(T0 + 3 * SECOND, 'rt-0', 'rt-x', { device_id: '', user_agent: 'curl/8.5' }),
      ],
      'critical',
    ],
    [
      'rejected by the auth server, still a stolen token',
      [
        rotate(T0, 'rt-0', 'rt-1'),
        rotate(T0 + 5 * MINUTE, 'rt-0', '', {
          outcome: 'rejected',
          reason: 'invalid',
          device_id: 'attacker',
          place: PLACES.tokyo,
        }),
      ],
      'critical',
    ],
  ])('%s → revoke the family', (_what, events, severity) => {
    const findings = detect(events);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      detector: 'refresh_replay',
      kind: 'rotated refresh token presented again',
      severity,
      action: 'revoke_family',
      target: { kind: 'family', id: 'fam-1' },
      first_event_ms: T0,
    });
    expect(findings[0]!.evidence.events).toHaveLength(2);
  });

  it('records the evidence: elapsed time, how the client was compared, generations behind', () => {
    const [f] = detect([
      rotate(T0, 'rt-0', 'rt-1'),
      rotate(T0 + 90 * SECOND, 'rt-0', 'rt-x', { device_id: 'attacker', place: PLACES.saoPaulo }),
    ]);
    expect(f!.evidence).toMatchObject({
      elapsed_ms: 90 * SECOND,
      same_client: false,
      compared_by: 'device',
      generations_behind: 0,
      grace_window_ms: 30 * SECOND,
    });
    expect(f!.evidence.events.map((e) => e.country)).toEqual(['DE', 'BR']);
    expect(f!.detected_ms).toBe(T0 + 90 * SECOND);
  });

  it('reports the auth server’s own reuse detection', () => {
    const findings = detect([
      rotate(T0, 'rt-0', 'rt-1', { outcome: 'rejected', reason: 'reuse_detected', new_token_id: '' }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'auth server reported refresh token reuse',
        severity: 'high',
        action: 'revoke_family',
        confidence: 1,
      }),
    ]);
  });

  it('believes reuse_detected from the auth server (or a key without a role), never from a verifier key', () => {
    const reuse = (reporter_role: string) =>
      detect([
        rotate(T0, 'rt-0', 'rt-1', {
          outcome: 'rejected',
          reason: 'reuse_detected',
          new_token_id: '',
          reporter_id: `acme:${reporter_role}`,
          reporter_role,
        }),
      ]).map((f) => f.kind);
    expect(reuse('auth-server')).toEqual(['auth server reported refresh token reuse']);
    expect(reuse('')).toEqual(['auth server reported refresh token reuse']);
    expect(reuse('verifier')).toEqual([]);
  });

  it('a rotated token id presented with a wrong secret is no replay: an alert of its own, and the real replay still found', () => {
    const findings = detect([
      rotate(T0, 'rt-0', 'rt-1'),
      // the attacker knows the id of rt-0 (rotated), not its secret
      rotate(T0 + MINUTE, 'rt-0', '', {
        outcome: 'rejected',
        reason: 'invalid_secret',
        place: PLACES.saoPaulo,
        device_id: '',
      }),
      rotate(T0 + 2 * MINUTE, 'rt-1', 'rt-2'),
    ]);
    expect(findings.map((f) => [f.kind, f.action, f.severity])).toEqual([
      ['refresh token presented with a wrong secret', 'alert_only', 'medium'],
    ]);
    // the owner's next rotation is judged as if the wrong-secret attempt never happened
    const replay = detect([
      rotate(T0, 'rt-0', 'rt-1'),
      rotate(T0 + MINUTE, 'rt-0', '', { outcome: 'rejected', reason: 'invalid_secret', device_id: '' }),
      rotate(T0 + 2 * MINUTE, 'rt-0', 'rt-x', { place: PLACES.saoPaulo, device_id: 'attacker' }),
    ]);
    expect(replay.map((f) => f.kind)).toEqual([
      'refresh token presented with a wrong secret',
      'rotated refresh token presented again',
    ]);
  });

  it('reports a revoked family presented again, as an alert (it is revoked already)', () => {
    const findings = detect([
      rotate(T0, 'rt-0', 'rt-1'),
      ev({ at: T0 + MINUTE, type: 'revocation', family_id: 'fam-1', reason: 'replay' }),
      rotate(T0 + 2 * MINUTE, 'rt-1', '', { outcome: 'rejected', reason: 'revoked', device_id: 'attacker' }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'revoked family presented again',
        action: 'alert_only',
        first_event_ms: T0 + MINUTE,
      }),
    ]);
  });

  it.each([
    ['revocation first (oidc-provider’s order)', true],
    ['reuse report first', false],
  ])(
    'an auth server that revokes the family on reuse: its reuse report still asks for the revocation — %s',
    (_, revocationFirst) => {
      const revoked = ev({
        at: T0 + MINUTE,
        type: 'revocation',
        family_id: 'fam-1',
        reason: 'oidc-provider:token',
      });
      const reuse = rotate(T0 + MINUTE, 'rt-0', '', {
        outcome: 'rejected',
        reason: 'reuse_detected',
        device_id: 'attacker',
        reporter_role: 'auth-server',
      });
      const findings = detect([
        rotate(T0, 'rt-0', 'rt-1'),
        ...(revocationFirst ? [revoked, reuse] : [reuse, revoked]),
      ]);
      expect(findings.map((f) => [f.kind, f.action])).toEqual([
        ['auth server reported refresh token reuse', 'revoke_family'],
      ]);
    },
  );

  it('reports one finding per family per window', () => {
    const findings = detect([
      rotate(T0, 'rt-0', 'rt-1'),
      rotate(T0 + MINUTE, 'rt-0', 'rt-a', { device_id: 'attacker' }),
      rotate(T0 + 2 * MINUTE, 'rt-0', 'rt-b', { device_id: 'attacker' }),
    ]);
    expect(findings).toHaveLength(1);
    const later = detect([
      rotate(T0, 'rt-0', 'rt-1'),
      rotate(T0 + MINUTE, 'rt-0', 'rt-a', { device_id: 'x' }),
      rotate(T0 + 20 * MINUTE, 'rt-0', 'rt-b', { device_id: 'x' }),
    ]);
    expect(later).toHaveLength(2);
  });

  it('takes the grace window from the thresholds', () => {
    const events = [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + 40 * SECOND, 'rt-0', 'rt-x')];
    expect(detect(events)).toHaveLength(1);
    expect(detect(events, { graceWindowMs: 60 * SECOND })).toHaveLength(0);
  });
});

describe('refresh_replay: hard negatives (no finding)', () => {
  it.each([
    [
      'two tabs refreshing within 1 s on one device',
      [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + 700, 'rt-0', 'rt-1b')],
    ],
    [
      'a retry after a network error (the response was lost)',
      [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + 3 * SECOND, 'rt-0', 'rt-1b')],
    ],
    [
      'a laptop waking with a stale token inside the grace window',
      [
        rotate(T0, 'rt-0', 'rt-1'),
        rotate(T0 + 25 * SECOND, 'rt-0', '', { outcome: 'rejected', reason: 'invalid' }),
      ],
    ],
    [
      'without device ids: same /24 network and user agent inside the grace window',
      [
        rotate(T0, 'rt-0', 'rt-1', { device_id: '' }),
        rotate(T0 + 2 * SECOND, 'rt-0', 'rt-1b', {
          device_id: '',
          place: PLACES.berlinSameNetwork,
        }),
      ],
    ],
    [
      'the same rotation reported twice',
      [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + 10 * MINUTE, 'rt-0', 'rt-1')],
    ],
    [
      'a normal chain of rotations',
      [
        rotate(T0, 'rt-0', 'rt-1'),
        rotate(T0 + 15 * MINUTE, 'rt-1', 'rt-2'),
        rotate(T0 + 30 * MINUTE, 'rt-2', 'rt-3', { place: PLACES.tokyo }),
      ],
    ],
    [
      'another family of the same subject',
      [rotate(T0, 'rt-0', 'rt-1'), rotate(T0 + MINUTE, 'rt-0', 'rt-9', { family_id: 'fam-2' })],
    ],
  ])('%s', (_what, events) => {
    expect(detect(events)).toEqual([]);
  });

  it('a rotation reported late, after the next one, is history, not a replay', () => {
    const late = [rotate(T0 + 15 * MINUTE, 'rt-1', 'rt-2'), rotate(T0, 'rt-0', 'rt-1')];
    expect(detect(late)).toEqual([]);
    const replay = detect([...late, rotate(T0 + 20 * MINUTE, 'rt-0', 'rt-x', { device_id: 'attacker' })]);
    expect(replay).toHaveLength(1);
    expect(replay[0]!.evidence).toMatchObject({ generations_behind: 1, rotated_at_ms: T0 });
  });

  it('recognises a token rotated many generations ago (remembered as a hash, not a sighting)', () => {
    const chain = Array.from({ length: 50 }, (_, i) =>
      rotate(T0 + i * 15 * MINUTE, `rt-${i}`, `rt-${i + 1}`),
    );
    const [f] = detect([...chain, rotate(T0 + 51 * 15 * MINUTE, 'rt-3', 'rt-x', { device_id: 'x' })]);
    expect(f).toMatchObject({
      kind: 'rotated refresh token presented again',
      first_event_ms: T0 + 3 * 15 * MINUTE,
    });
    expect(f!.evidence).toMatchObject({ generations_behind: 46 });
    // the replayed token's own rotation is a hash now; the evidence shows the family's latest rotation
    expect(f!.evidence.events.map((x) => x.time_ms)).toEqual([T0 + 49 * 15 * MINUTE, T0 + 51 * 15 * MINUTE]);
  });
});
