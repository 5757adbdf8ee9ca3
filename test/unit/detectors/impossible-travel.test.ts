import { describe, expect, it } from 'vitest';
import { detectImpossibleTravel } from '../../../detectors/impossible-travel.ts';
import { distanceKm } from '../../../platform/net/network.ts';
import { ev, HOUR, MINUTE, PLACES, type Place, run, T0 } from './helpers.ts';

const use = (at: number, place: Place, extra = {}) => ev({ at, place, jti: 'jti-1', ...extra });
const detect = (events: ReturnType<typeof use>[], settings = {}) =>
  run(detectImpossibleTravel, events, settings).findings;

describe('distanceKm', () => {
  it('matches known great-circle distances', () => {
    expect(distanceKm(52.5174, 13.3985, 52.5174, 13.3985)).toBe(0);
    expect(Math.round(distanceKm(50.1188, 8.6843, 40.7128, -74.006))).toBe(6202); // Frankfurt – New York
    expect(Math.round(distanceKm(52.5174, 13.3985, -23.5505, -46.6333))).toBe(10_252); // Berlin – São Paulo
  });
});

describe('impossible_travel: findings', () => {
  it.each([
    [
      'a jti in Berlin, then in São Paulo 10 minutes later',
      [use(T0, PLACES.berlin), use(T0 + 10 * MINUTE, PLACES.saoPaulo)],
      'jti',
      'revoke_jti',
    ],
    [
      'a session in Berlin and Tokyo within the hour',
      [
        use(T0, PLACES.berlin, { jti: '', session_id: 's-1' }),
        use(T0 + 50 * MINUTE, PLACES.tokyo, { jti: '', session_id: 's-1' }),
      ],
      'session',
      'alert_only',
    ],
    [
      'a refresh family in Frankfurt and New York 2 hours apart',
      [
        use(T0, PLACES.frankfurt, { jti: '', type: 'refresh', family_id: 'fam-1' }),
        use(T0 + 2 * HOUR, PLACES.newYork, { jti: '', type: 'refresh', family_id: 'fam-1' }),
      ],
      'family',
      'revoke_family',
    ],
    [
      'two places at the same instant',
      [use(T0, PLACES.berlin), use(T0, PLACES.newYork)],
      'jti',
      'revoke_jti',
    ],
  ])('%s', (_what, events, kind, action) => {
    const findings = detect(events);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      detector: 'impossible_travel',
      target: { kind },
      action,
      severity: 'high',
      first_event_ms: events[0]!.time_ms,
      detected_ms: events[1]!.time_ms,
    });
  });

  it('gives distance, radii, elapsed time and speed as evidence', () => {
    const [f] = detect([use(T0, PLACES.berlin), use(T0 + HOUR, PLACES.saoPaulo)]);
    expect(f!.evidence).toMatchObject({
      distance_km: 10_252,
      distance_minus_radii_km: 10_002,
      radii_km: [200, 50],
      elapsed_s: 3600,
      speed_kmh: 10_002,
      max_speed_kmh: 1000,
    });
    expect(f!.evidence.events.map((e) => e.city)).toEqual(['Berlin', 'São Paulo']);
    expect(f!.confidence).toBe(0.95);
  });

  it('handles events that arrive out of order', () => {
    const findings = detect([use(T0 + 10 * MINUTE, PLACES.saoPaulo), use(T0, PLACES.berlin)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.first_event_ms).toBe(T0);
  });

  it('reports one finding per jti per window', () => {
    const events = [
      use(T0, PLACES.berlin),
      use(T0 + MINUTE, PLACES.saoPaulo),
      use(T0 + 2 * MINUTE, PLACES.berlin),
      use(T0 + 3 * MINUTE, PLACES.saoPaulo),
    ];
    expect(detect(events)).toHaveLength(1);
  });

  it('takes max speed and minimum distance from the thresholds', () => {
    const flight = [use(T0, PLACES.frankfurt), use(T0 + 8 * HOUR, PLACES.newYork)];
    expect(detect(flight, { maxSpeedKmh: 500 })).toHaveLength(1);
    expect(
      detect([use(T0, PLACES.berlin), use(T0 + MINUTE, PLACES.frankfurt)], { minDistanceKm: 100 }),
    ).toHaveLength(1);
  });
});

describe('impossible_travel: hard negatives (no finding)', () => {
  it.each([
    [
      'a real flight: Frankfurt → New York in 8 h',
      [use(T0, PLACES.frankfurt), use(T0 + 8 * HOUR, PLACES.newYork)],
    ],
    [
      'a phone moving between Wi-Fi and mobile data in one city',
      [
        use(T0, PLACES.berlin),
        use(T0 + MINUTE, PLACES.berlinMobile),
        use(T0 + 2 * MINUTE, PLACES.berlinOtherIsp),
      ],
    ],
    [
      'IPv6 without city (country-level, 1000 km radius)',
      [use(T0, PLACES.berlin), use(T0 + MINUTE, PLACES.germanyIpv6NoCity)],
    ],
    [
      'Berlin → Frankfurt (< 300 km after radii) within minutes',
      [use(T0, PLACES.berlin), use(T0 + 5 * MINUTE, PLACES.frankfurt)],
    ],
    [
      'a private address in between',
      [use(T0, PLACES.berlin), use(T0 + MINUTE, PLACES.office), use(T0 + 2 * MINUTE, PLACES.berlin)],
    ],
    [
      'different jtis in different places',
      [use(T0, PLACES.berlin), use(T0 + MINUTE, PLACES.saoPaulo, { jti: 'jti-2' })],
    ],
    ...(['bad_signature', 'alg_not_allowed', 'unknown_kid', 'malformed', 'other'] as const).map(
      (reason): [string, ReturnType<typeof use>[]] => [
        `a forgery (${reason}) naming the victim's jti and session from far away: its claims are not the token's`,
        [
          use(T0, PLACES.berlin, { session_id: 's-1' }),
          use(T0 + MINUTE, PLACES.saoPaulo, { session_id: 's-1', outcome: 'rejected', reason }),
          use(T0 + 2 * MINUTE, PLACES.berlin, { session_id: 's-1' }),
        ],
      ],
    ),
  ])('%s', (_what, events) => {
    expect(detect(events)).toEqual([]);
  });

  it('an allowlisted VPN egress hop', () => {
    const events = [
      use(T0, PLACES.berlin),
      use(T0 + MINUTE, PLACES.vpnAmsterdam),
      use(T0 + 2 * MINUTE, PLACES.berlin),
    ];
    expect(detect(events, { allowlistCidrs: ['185.65.134.0/24'] })).toEqual([]);
    // Without the allowlist, Berlin → Amsterdam in a minute is impossible (≈ 577 km minus radii).
    expect(detect(events)).toHaveLength(1);
  });
});
