import { describe, expect, it } from 'vitest';
import { detectDeviceReuse } from '../../../detectors/device-reuse.ts';
import type { DetectorEvent } from '../../../detectors/types.ts';
import { ev, MINUTE, PLACES, run, SECOND, T0 } from './helpers.ts';

const detect = (events: DetectorEvent[], settings = {}) => run(detectDeviceReuse, events, settings).findings;

describe('device_reuse: findings', () => {
  it('a jti presented from a second device → revoke the jti', () => {
    const findings = detect([
      ev({ at: T0, jti: 'jti-1', device_id: 'laptop' }),
      ev({ at: T0 + SECOND, jti: 'jti-1', device_id: 'laptop' }),
      ev({ at: T0 + MINUTE, jti: 'jti-1', device_id: 'unknown-box', place: PLACES.saoPaulo }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        detector: 'device_reuse',
        target: { kind: 'jti', id: 'jti-1' },
        action: 'revoke_jti',
        severity: 'high',
        // the evidence is each device's latest sighting (memory keeps one sighting per device)
        first_event_ms: T0 + SECOND,
        detected_ms: T0 + MINUTE,
      }),
    ]);
    expect(findings[0]!.evidence['devices']).toEqual(['laptop', 'unknown-box']);
  });

  it("is dated by the second device's sighting even when the owner's earlier use arrives after it", () => {
    const clone = ev({ at: T0 + MINUTE, jti: 'jti-1', device_id: 'unknown-box', place: PLACES.saoPaulo });
    const owner = ev({ at: T0, jti: 'jti-1', device_id: 'laptop' });
    const findings = detect([clone, owner]);
    expect(findings).toEqual([
      expect.objectContaining({
        target: { kind: 'jti', id: 'jti-1' },
        first_event_ms: T0,
        detected_ms: T0 + MINUTE,
        trigger_event_id: clone.event_id,
      }),
    ]);
  });

  it('a refresh family used from two devices → revoke the family', () => {
    const findings = detect([
      ev({
        at: T0,
        type: 'refresh',
        family_id: 'fam-1',
        token_id: 'rt-1',
        new_token_id: 'rt-2',
        outcome: 'rotated',
        device_id: 'phone',
      }),
      ev({
        at: T0 + MINUTE,
        type: 'refresh',
        family_id: 'fam-1',
        token_id: 'rt-2',
        new_token_id: 'rt-3',
        outcome: 'rotated',
        device_id: 'other',
      }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({ target: { kind: 'family', id: 'fam-1' }, action: 'revoke_family' }),
    ]);
  });

  it('without device ids: one jti from 3 networks within 5 minutes → alert', () => {
    const findings = detect([
      ev({ at: T0, jti: 'jti-1', place: PLACES.berlin }),
      ev({ at: T0 + MINUTE, jti: 'jti-1', place: PLACES.berlinOtherIsp }),
      ev({ at: T0 + 2 * MINUTE, jti: 'jti-1', place: PLACES.tokyo }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        target: { kind: 'jti', id: 'jti-1' },
        action: 'alert_only',
        severity: 'medium',
      }),
    ]);
    expect(findings[0]!.evidence['networks']).toEqual(['85.214.132.0/24', '91.64.12.0/24', '133.242.0.0/24']);
  });

  it('reports one finding per target per window', () => {
    const events = [
      ev({ at: T0, jti: 'j', device_id: 'a' }),
      ev({ at: T0 + SECOND, jti: 'j', device_id: 'b' }),
      ev({ at: T0 + 2 * SECOND, jti: 'j', device_id: 'c' }),
    ];
    expect(detect(events)).toHaveLength(1);
  });
});

describe('device_reuse: hard negatives (no finding)', () => {
  it.each([
    [
      "a forged signature carrying the victim's jti from another device",
      [
        ev({ at: T0, jti: 'j', device_id: 'a' }),
        ev({ at: T0 + MINUTE, jti: 'j', device_id: 'forger', outcome: 'rejected', reason: 'bad_signature' }),
      ],
    ],
    [
      'one device, many requests',
      [
        ev({ at: T0, jti: 'j', device_id: 'a' }),
        ev({ at: T0 + MINUTE, jti: 'j', device_id: 'a', place: PLACES.berlinMobile }),
      ],
    ],
    [
      'a phone switching between Wi-Fi and mobile data (2 networks)',
      [
        ev({ at: T0, jti: 'j' }),
        ev({ at: T0 + MINUTE, jti: 'j', place: PLACES.berlinMobile }),
        ev({ at: T0 + 2 * MINUTE, jti: 'j' }),
      ],
    ],
    [
      'three networks, but spread over more than 5 minutes',
      [
        ev({ at: T0, jti: 'j' }),
        ev({ at: T0 + 4 * MINUTE, jti: 'j', place: PLACES.berlinMobile }),
        ev({ at: T0 + 10 * MINUTE, jti: 'j', place: PLACES.tokyo }),
      ],
    ],
    [
      'different jtis on different devices',
      [ev({ at: T0, jti: 'j1', device_id: 'a' }), ev({ at: T0 + SECOND, jti: 'j2', device_id: 'b' })],
    ],
    [
      'malformed tokens (no real jti)',
      [
        ev({ at: T0, jti: 'j', device_id: 'a', outcome: 'rejected', reason: 'malformed' }),
        ev({ at: T0 + 1, jti: 'j', device_id: 'b', outcome: 'rejected', reason: 'malformed' }),
      ],
    ],
  ])('%s', (_what, events) => {
    expect(detect(events)).toEqual([]);
  });

  it('an allowlisted proxy network does not count', () => {
    const events = [
      ev({ at: T0, jti: 'j' }),
      ev({ at: T0 + MINUTE, jti: 'j', place: PLACES.vpnAmsterdam }),
      ev({ at: T0 + 2 * MINUTE, jti: 'j', place: PLACES.tokyo }),
    ];
    expect(detect(events, { allowlistCidrs: ['185.65.134.0/24'] })).toEqual([]);
    expect(detect(events)).toHaveLength(1);
  });
});

describe('device_reuse: device trust in the evidence', () => {
  const twoDevices = (first: string, second: string) =>
    detect([
      ev({ at: T0, jti: 'jti-1', device_id: 'laptop', device_id_source: first }),
      ev({ at: T0 + MINUTE, jti: 'jti-1', device_id: 'phone', device_id_source: second }),
    ]);

  it.each([
    ['claim', 'claim', 'strong'],
    ['auth_server', 'claim', 'strong'],
    ['auth_server', 'auth_server', 'strong'],
    ['claim', 'header', 'weak'],
    ['cookie', 'auth_server', 'weak'],
    ['header', 'cookie', 'weak'],
    ['', 'claim', 'weak'],
    ['', '', 'weak'],
  ])('%j and %j → %s (strong only when the auth server vouches for both)', (first, second, trust) => {
    const [finding] = twoDevices(first, second);
    expect(finding).toMatchObject({ action: 'revoke_jti', severity: 'high' }); // the finding itself is unchanged
    expect(finding!.evidence['device_trust']).toBe(trust);
    expect(finding!.evidence['device_sources']).toEqual([first, second]);
  });

  it('an event without the field (stored before it was recorded) counts as weak', () => {
    const [finding] = detect([
      ev({ at: T0, jti: 'jti-1', device_id: 'laptop' }),
      ev({ at: T0 + MINUTE, jti: 'jti-1', device_id: 'phone' }),
    ]);
    expect(finding!.evidence['device_trust']).toBe('weak');
  });
});
