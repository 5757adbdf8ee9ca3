import { expect } from 'vitest';
import type { Detector } from '../../../detectors/descriptor.ts';
import { REGISTRY } from '../../../detectors/registry.ts';
import { type KeyedState, newKeyedState } from '../../../detectors/state.ts';
import { buildThresholds, type ThresholdSettings } from '../../../detectors/thresholds.ts';
import type { DetectorEvent, Finding } from '../../../detectors/types.ts';

export const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** Places with their geoip-style location and accuracy radius. */
export const PLACES = {
  berlin: {
    ip: '85.214.132.117',
    country: 'DE',
    city: 'Berlin',
    lat: 52.5174,
    lon: 13.3985,
    geo_radius_km: 200,
  },
  berlinSameNetwork: {
    ip: '85.214.132.201',
    country: 'DE',
    city: 'Berlin',
    lat: 52.5174,
    lon: 13.3985,
    geo_radius_km: 200,
  },
  berlinMobile: {
    ip: '85.214.9.77',
    country: 'DE',
    city: 'Berlin',
    lat: 52.52,
    lon: 13.4,
    geo_radius_km: 200,
  },
  berlinOtherIsp: {
    ip: '91.64.12.5',
    country: 'DE',
    city: 'Berlin',
    lat: 52.5,
    lon: 13.41,
    geo_radius_km: 50,
  },
  frankfurt: {
    ip: '2a00:1450:4001:82b::200e',
    country: 'DE',
    city: 'Frankfurt am Main',
    lat: 50.1188,
    lon: 8.6843,
    geo_radius_km: 100,
  },
  newYork: {
    ip: '72.229.28.185',
    country: 'US',
    city: 'New York',
    lat: 40.7128,
    lon: -74.006,
    geo_radius_km: 20,
  },
  saoPaulo: {
    ip: '200.147.67.142',
    country: 'BR',
    city: 'São Paulo',
    lat: -23.5505,
    lon: -46.6333,
    geo_radius_km: 50,
  },
  tokyo: { ip: '133.242.0.1', country: 'JP', city: 'Tokyo', lat: 35.6895, lon: 139.6917, geo_radius_km: 100 },
  germanyIpv6NoCity: {
    ip: '2a02:8108:1:2::1',
    country: 'DE',
    city: '',
    lat: 51.2993,
    lon: 9.491,
    geo_radius_km: 1000,
  },
  vpnAmsterdam: {
    ip: '185.65.134.10',
    country: 'NL',
    city: 'Amsterdam',
    lat: 52.37,
    lon: 4.89,
    geo_radius_km: 20,
  },
  /** a consumer VPN's exit on a hosting network (Vultr, Tokyo) */
  vpnTokyo: {
    ip: '45.32.14.1',
    country: 'JP',
    city: 'Tokyo',
    lat: 35.5826,
    lon: 139.7459,
    geo_radius_km: 100,
  },
  office: { ip: '10.20.30.40', country: '', city: '', lat: 0, lon: 0, geo_radius_km: 0 },
} as const;

export type Place = (typeof PLACES)[keyof typeof PLACES];

let seq = 0;
export function ev(fields: Partial<DetectorEvent> & { at: number; place?: Place }): DetectorEvent {
  const { at, place = PLACES.berlin, ...rest } = fields;
  return {
    event_id: `e${++seq}`,
    type: 'verification',
    time_ms: at,
    tenant: 'acme',
    subject: 'alice',
    source: 'gateway',
    session_id: '',
    ip: place.ip,
    user_agent: 'Mozilla/5.0 (Macintosh) Firefox/128.0',
    device_id: '',
    outcome: 'accepted',
    reason: 'ok',
    jti: '',
    alg: 'EdDSA',
    exp: 0,
    client_id: 'web',
    family_id: '',
    token_id: '',
    new_token_id: '',
    access_jti: '',
    country: place.country,
    city: place.city,
    lat: place.lat,
    lon: place.lon,
    geo_radius_km: place.geo_radius_km,
    asn: 0,
    as_org: '',
    network_kind: '',
    reporter_id: '',
    reporter_role: '',
    ...rest,
  };
}

/**
 * Folds a detector over events, collecting its findings. Kafka delivers at least once and a rebuild
 * re-reads what the state already holds, so the same run is repeated with every event delivered
 * twice, and with the whole stream delivered again: both must find exactly what one delivery finds.
 */
export function run(
  detect: Detector,
  events: DetectorEvent[],
  settings: Partial<ThresholdSettings> = {},
): { state: KeyedState; findings: Finding[] } {
  const once = fold(detect, events, settings);
  const twice = fold(
    detect,
    events.flatMap((e) => [e, { ...e }]),
    settings,
  );
  expect(twice.findings, 'every event delivered twice').toEqual(once.findings);
  const again = fold(detect, [...events, ...events.map((e) => ({ ...e }))], settings);
  expect(again.findings, 'the whole stream delivered again').toEqual(once.findings);
  return once;
}

export function fold(detect: Detector, events: DetectorEvent[], settings: Partial<ThresholdSettings> = {}) {
  const cfg = buildThresholds({ ...REGISTRY.defaults, ...settings } as ThresholdSettings);
  const state = newKeyedState();
  const findings: Finding[] = [];
  for (const e of events) findings.push(...detect(state, e, cfg));
  return { state, findings };
}
