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

describe('impossible_travel: familiar places, anonymizer hops, satellite links', () => {
  const DAY = 24 * HOUR;
  const LAPTOP = { device_id: 'laptop-1', user_agent: 'Mozilla/5.0 (Macintosh) Firefox/128.0' };
  const vpn = PLACES.vpnTokyo;
  const onVpn = { asn: 20473, network_kind: 'hosting' };
  const home = { asn: 3320, network_kind: '' };
  /** a day of the laptop switching its VPN on and off: home, VPN, home (one token per day) */
  const vpnDay = (day: number, extra = {}) => [
    use(T0 + day * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: `day-${day}`, ...extra }),
    use(T0 + day * DAY + 4 * MINUTE, vpn, { ...LAPTOP, ...onVpn, jti: `day-${day}`, ...extra }),
    use(T0 + day * DAY + 8 * MINUTE, PLACES.berlin, { ...LAPTOP, ...home, jti: `day-${day}`, ...extra }),
  ];

  it('a hop onto a hosting network with the same device and user agent is an anonymizer hop: an alert, not a revocation', () => {
    const found = detect(vpnDay(0));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      kind: 'jti hopped onto an anonymizer network (same device and user agent)',
      severity: 'medium',
      action: 'alert_only',
      evidence: {
        networks: [
          { asn: 3320, network_kind: '' },
          { asn: 20473, network_kind: 'hosting' },
        ],
      },
    });
  });

  it('with another device or user agent it stays a copied token (revoke)', () => {
    const events = [
      use(T0, PLACES.berlin, { ...LAPTOP, ...home }),
      use(T0 + 10 * MINUTE, vpn, { ...LAPTOP, ...onVpn, device_id: 'thief-box' }),
    ];
    expect(detect(events)[0]).toMatchObject({ action: 'revoke_jti', severity: 'high' });
    const otherBrowser = [
      use(T0, PLACES.berlin, { ...LAPTOP, ...home }),
      use(T0 + 10 * MINUTE, vpn, { ...LAPTOP, ...onVpn, user_agent: 'curl/8.5.0' }),
    ];
    expect(detect(otherBrowser)[0]).toMatchObject({ action: 'revoke_jti' });
    // no device id at all: nothing says it is the same client
    const noDevice = [use(T0, PLACES.berlin, home), use(T0 + 10 * MINUTE, vpn, onVpn)];
    expect(detect(noDevice)[0]).toMatchObject({ action: 'revoke_jti' });
  });

  it('from the second day on, home and the VPN are familiar: no finding at all', () => {
    const found = detect([...vpnDay(0), ...vpnDay(1), ...vpnDay(2), ...vpnDay(5)]);
    // day 0 alerts once (within the dedup window); on day 1 both were seen on another day
    expect(found.map((f) => [Math.floor((f.detected_ms - T0) / DAY), f.action])).toEqual([[0, 'alert_only']]);
  });

  it('familiar places work without any network data (geoip-lite alone): two places used on other days', () => {
    // days 0 and 1: one token at home, another (a second laptop, a VPN's own session) far away
    const apart = [0, 1].flatMap((d) => [
      use(T0 + d * DAY, PLACES.berlin, { jti: `home-${d}` }),
      use(T0 + d * DAY + 30 * MINUTE, PLACES.saoPaulo, { jti: `far-${d}` }),
    ]);
    const both = [
      use(T0 + 2 * DAY, PLACES.berlin, { jti: 'd2' }),
      use(T0 + 2 * DAY + 30 * MINUTE, PLACES.saoPaulo, { jti: 'd2' }),
    ];
    expect(detect([...apart, ...both])).toEqual([]);
    // with familiarity off, it is travel
    expect(detect([...apart, ...both], { familiarDays: 0 })).toHaveLength(1);
    // a place reached only as the second end of a copied token's pair is not learned from it
    const copied = [0, 1, 2].flatMap((d) => [
      use(T0 + d * DAY, PLACES.berlin, { jti: `c${d}` }),
      use(T0 + d * DAY + 30 * MINUTE, PLACES.saoPaulo, { jti: `c${d}` }),
    ]);
    expect(detect(copied)).toHaveLength(3);
  });

  it('a thief’s place is never learned from the copied token: the victim’s home days do not make it familiar', () => {
    const days = [0, 1, 2, 3].flatMap((d) => [
      use(T0 + d * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: `t${d}` }),
      use(T0 + d * DAY + 5 * MINUTE, PLACES.saoPaulo, { device_id: 'thief', jti: `t${d}` }),
    ]);
    const found = detect(days);
    expect(found.map((f) => f.action)).toEqual(['revoke_jti', 'revoke_jti', 'revoke_jti', 'revoke_jti']);
  });

  it('a thief on the victim’s own big ISP elsewhere is travel: an ordinary line’s ASN is never familiar', () => {
    const days = [0, 1, 2].map((d) => use(T0 + d * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: `h${d}` }));
    const stolen = [
      use(T0 + 3 * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: 'x' }),
      use(T0 + 3 * DAY + 5 * MINUTE, PLACES.saoPaulo, { device_id: 'thief', ...home, jti: 'x' }),
    ];
    expect(detect([...days, ...stolen])).toMatchObject([{ action: 'revoke_jti' }]);
  });

  it('a thief who uses each stolen token before the victim does is not learned either: neither end of a copy is', () => {
    const quiet = [0, 1, 2].map((d) =>
      use(T0 + d * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: `q${d}` }),
    );
    const attacked = [3, 4, 5].flatMap((d) => [
      use(T0 + d * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: `own-${d}` }),
      use(T0 + d * DAY + HOUR, PLACES.saoPaulo, { device_id: 'thief', jti: `t${d}` }),
      use(T0 + d * DAY + HOUR + 5 * MINUTE, PLACES.berlin, { ...LAPTOP, ...home, jti: `t${d}` }),
    ]);
    expect(detect([...quiet, ...attacked]).map((f) => f.action)).toEqual([
      'revoke_jti',
      'revoke_jti',
      'revoke_jti',
    ]);
  });

  it('one device at a misplaced home line and at the office: the home (the earlier end) is learned, so day 2 is quiet', () => {
    // the laptop's home line is placed in São Paulo by the geo database; the office is in Berlin
    const days = [0, 1, 2].flatMap((d) => [
      use(T0 + d * DAY, PLACES.saoPaulo, { ...LAPTOP, jti: `m${d}` }),
      use(T0 + d * DAY + 2 * HOUR, PLACES.berlin, { ...LAPTOP, jti: `m${d}` }),
      use(T0 + d * DAY + 3 * HOUR, PLACES.berlin, { ...LAPTOP, jti: `o${d}` }),
    ]);
    expect(detect(days).map((f) => Math.floor((f.detected_ms - T0) / DAY))).toEqual([0]);
  });

  it('one familiar end is not enough: home familiar, a new place far away is travel', () => {
    const homeDays = [0, 1].map((d) =>
      use(T0 + d * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: `h${d}` }),
    );
    const trip = [
      use(T0 + 2 * DAY, PLACES.berlin, { ...LAPTOP, ...home, jti: 'trip' }),
      use(T0 + 2 * DAY + 10 * MINUTE, PLACES.saoPaulo, { ...LAPTOP, jti: 'trip' }),
    ];
    expect(detect([...homeDays, ...trip])).toHaveLength(1);
  });

  it('a satellite link (in-flight Wi-Fi) says nothing about where the client is', () => {
    const flight = [
      use(T0, PLACES.berlin, { ...LAPTOP, ...home }),
      use(T0 + 30 * MINUTE, PLACES.newYork, { ...LAPTOP, asn: 64512, network_kind: 'satellite' }),
      use(T0 + 60 * MINUTE, PLACES.tokyo, { ...LAPTOP, asn: 64512, network_kind: 'satellite' }),
    ];
    expect(detect(flight)).toEqual([]);
  });
});
