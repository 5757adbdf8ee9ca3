/**
 * A small, fully known world for the dashboard tests: two tenants, an hour of traffic, one account
 * (alice, tenant acme) whose refresh token is replayed from São Paulo and whose access token then
 * travels impossibly, the findings and revocations that followed, a forger, and dead letters.
 * Every overview and investigation panel has rows to show for it.
 */

import { type DetectionRow, toDetection, toDetectionRow } from '../../detectors/detection.ts';
import type { EvidenceEvent, Finding } from '../../detectors/types.ts';
import type { RevocationRow } from '../../response/revoke/outbox.ts';

export const SEED_T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
export const SEED_FROM = SEED_T0 - 3_600_000;
export const SEED_TO = SEED_T0 + 2 * 3_600_000;
const MIN = 60_000;

const BERLIN = {
  ip: '85.214.132.117',
  country: 'DE',
  region: 'BE',
  city: 'Berlin',
  lat: 52.52,
  lon: 13.405,
  geo_radius_km: 20,
};
const SAO_PAULO = {
  ip: '200.147.67.142',
  country: 'BR',
  region: 'SP',
  city: 'São Paulo',
  lat: -23.5475,
  lon: -46.6361,
  geo_radius_km: 50,
};
const TOKYO = {
  ip: '133.242.0.1',
  country: 'JP',
  region: '13',
  city: 'Tokyo',
  lat: 35.6895,
  lon: 139.6917,
  geo_radius_km: 100,
};
type Place = typeof BERLIN;

export type EventRow = Record<string, unknown>;
let n = 0;

function event(o: {
  at: number;
  tenant?: string;
  source?: string;
  subject: string;
  type: 'verification' | 'refresh' | 'issuance';
  outcome: string;
  reason: string;
  place: Place;
  device?: string;
  jti?: string;
  family?: string;
  accessJti?: string;
  lagMs?: number;
}): EventRow {
  const lag = o.lagMs ?? 250;
  return {
    event_id: `seed-${++n}`,
    type: o.type,
    time: Math.floor(o.at / 1000),
    time_ms: o.at,
    received_at: Math.floor((o.at + lag) / 1000),
    received_ms: o.at + lag,
    tenant: o.tenant ?? 'acme',
    source: o.source ?? 'api-gw',
    subject: o.subject,
    session_id: '',
    ip: o.place.ip,
    user_agent: 'Mozilla/5.0',
    device_id: o.device ?? `${o.subject}-laptop`,
    outcome: o.outcome,
    reason: o.reason,
    jti: o.jti ?? '',
    alg: 'EdDSA',
    family_id: o.family ?? '',
    access_jti: o.accessJti ?? '',
    country: o.place.country,
    region: o.place.region,
    city: o.place.city,
    lat: o.place.lat,
    lon: o.place.lon,
    geo_radius_km: o.place.geo_radius_km,
  };
}

/** An hour of ordinary traffic for both tenants: what the rollups count. */
function background(): EventRow[] {
  const rows: EventRow[] = [];
  for (let m = 0; m < 60; m++) {
    const at = SEED_T0 + m * MIN;
    for (let i = 0; i < 10; i++) {
      rows.push(
        event({
          at: at + i * 1000,
          subject: `user-${i % 5}`,
          type: 'verification',
          outcome: 'accepted',
          reason: 'ok',
          place: BERLIN,
        }),
      );
    }
    for (let i = 0; i < 2; i++) {
      rows.push(
        event({
          at: at + 20_000 + i,
          source: 'orders-api',
          subject: `user-${i}`,
          type: 'verification',
          outcome: 'rejected',
          reason: 'expired',
          place: BERLIN,
          lagMs: 2_000,
        }),
      );
    }
    rows.push(
      event({
        at: at + 30_000,
        subject: `user-${m % 5}`,
        type: 'refresh',
        outcome: 'rotated',
        reason: 'ok',
        place: BERLIN,
      }),
    );
    rows.push(
      event({
        at: at + 40_000,
        tenant: 'globex',
        subject: 'bob',
        type: 'verification',
        outcome: 'accepted',
        reason: 'ok',
        place: TOKYO,
      }),
    );
  }
  return rows;
}

/** alice's story, minute by minute. */
export const ALICE = {
  login: SEED_T0 + 5 * MIN,
  replay: SEED_T0 + 20 * MIN,
  travel: SEED_T0 + 22 * MIN,
  family: 'fam-alice',
  stolenJti: 'jti-alice-2',
};

function alice(): EventRow[] {
  const a = { subject: 'alice' };
  return [
    event({
      ...a,
      at: ALICE.login,
      type: 'issuance',
      outcome: '',
      reason: '',
      place: BERLIN,
      family: ALICE.family,
      accessJti: 'jti-alice-1',
    }),
    event({
      ...a,
      at: ALICE.login + MIN,
      type: 'verification',
      outcome: 'accepted',
      reason: 'ok',
      place: BERLIN,
      jti: 'jti-alice-1',
    }),
    event({
      ...a,
      at: ALICE.login + 2 * MIN,
      type: 'refresh',
      outcome: 'rotated',
      reason: 'ok',
      place: BERLIN,
      family: ALICE.family,
      accessJti: ALICE.stolenJti,
    }),
    event({
      ...a,
      at: ALICE.replay,
      type: 'refresh',
      outcome: 'rejected',
      reason: 'reuse_detected',
      place: SAO_PAULO,
      device: 'thief-pc',
      family: ALICE.family,
    }),
    event({
      ...a,
      at: ALICE.replay + 30_000,
      type: 'verification',
      outcome: 'rejected',
      reason: 'revoked',
      place: SAO_PAULO,
      device: 'thief-pc',
      jti: ALICE.stolenJti,
      source: 'orders-api',
    }),
    event({
      ...a,
      at: ALICE.travel,
      type: 'verification',
      outcome: 'accepted',
      reason: 'ok',
      place: SAO_PAULO,
      device: 'thief-pc',
      jti: ALICE.stolenJti,
    }),
  ];
}

function forger(): EventRow[] {
  const at = SEED_T0 + 30 * MIN;
  return [
    ...[0, 1, 2].map((i) =>
      event({
        at: at + i * 1000,
        source: 'orders-api',
        subject: 'mallory',
        type: 'verification',
        outcome: 'rejected',
        reason: 'bad_signature',
        place: SAO_PAULO,
      }),
    ),
    event({
      at: at + 5000,
      source: 'orders-api',
      subject: 'mallory',
      type: 'verification',
      outcome: 'rejected',
      reason: 'alg_not_allowed',
      place: SAO_PAULO,
    }),
  ];
}

/**
 * Subjects and a source chosen by an attacker to break out of a quoted string: quotes, backslashes
 * and SQL. Grafana's `singlequote` escapes `'` as `\'` but leaves `\`, so `x\` ended the literal.
 */
export const HOSTILE = {
  subject: "o'brien\\' OR 1=1 OR subject != '\\",
  /** a second, near-identical subject: a sloppy escape would match it too */
  lookalike: "o'brien\\\\' OR 1=1 OR subject != '\\",
  source: "gw\\') OR 1=1 OR source IN ('\\",
  at: SEED_T0 + 40 * MIN,
};

function hostile(): EventRow[] {
  const one = (subject: string, i: number, outcome: string, reason: string) =>
    event({
      at: HOSTILE.at + i * 1000,
      source: HOSTILE.source,
      subject,
      type: 'verification',
      outcome,
      reason,
      place: TOKYO,
      device: 'hostile-device',
    });
  return [
    one(HOSTILE.subject, 0, 'accepted', ''),
    one(HOSTILE.subject, 1, 'accepted', ''),
    one(HOSTILE.subject, 2, 'rejected', 'expired'),
    one(HOSTILE.lookalike, 3, 'accepted', ''),
  ];
}

export const seedEvents = (): EventRow[] => [...background(), ...alice(), ...forger(), ...hostile()];

const evidence = (e: EventRow): EvidenceEvent => ({
  event_id: String(e['event_id']),
  type: e['type'] as EvidenceEvent['type'],
  time_ms: Number(e['time_ms']),
  ip: String(e['ip']),
  country: String(e['country']),
  city: String(e['city']),
  lat: Number(e['lat']),
  lon: Number(e['lon']),
  device_id: String(e['device_id']),
  user_agent: String(e['user_agent']),
  outcome: String(e['outcome']),
  reason: String(e['reason']),
});

export function seedDetections(events: EventRow[]): DetectionRow[] {
  const byTime = (subject: string, ms: number) =>
    events.find((e) => e['subject'] === subject && e['time_ms'] === ms)!;
  const rotation = byTime('alice', ALICE.login + 2 * MIN);
  const replay = byTime('alice', ALICE.replay);
  const travel = byTime('alice', ALICE.travel);
  const forged = events.find((e) => e['reason'] === 'alg_not_allowed')!;
  const bob = events.find((e) => e['subject'] === 'bob')!;
  const base = { tenant: 'acme', subject: 'alice', jti: '', family_id: ALICE.family, session_id: '' };
  const findings: Finding[] = [
    {
      ...base,
      detector: 'refresh_replay',
      kind: 'rotated refresh token presented again',
      severity: 'critical',
      confidence: 0.99,
      target: { kind: 'family', id: ALICE.family },
      action: 'revoke_family',
      evidence: { events: [evidence(rotation), evidence(replay)] },
      first_event_ms: ALICE.login + 2 * MIN,
      detected_ms: ALICE.replay,
      trigger_event_id: String(replay['event_id']),
    },
    {
      ...base,
      jti: ALICE.stolenJti,
      detector: 'impossible_travel',
      kind: 'jti used from places too far apart',
      severity: 'high',
      confidence: 0.95,
      target: { kind: 'jti', id: ALICE.stolenJti },
      action: 'revoke_jti',
      evidence: {
        events: [evidence(rotation), evidence(travel)],
        distance_km: 10_000,
        distance_minus_radii_km: 9_930,
        elapsed_s: 1080,
        speed_kmh: 33_100,
        max_speed_kmh: 1000,
      },
      first_event_ms: ALICE.login + 2 * MIN,
      detected_ms: ALICE.travel,
      trigger_event_id: String(travel['event_id']),
    },
    {
      ...base,
      detector: 'device_reuse',
      kind: 'family used from more than one device',
      severity: 'medium',
      confidence: 0.8,
      target: { kind: 'family', id: ALICE.family },
      action: 'alert_only',
      evidence: { events: [evidence(rotation), evidence(replay)], devices: ['alice-laptop', 'thief-pc'] },
      first_event_ms: ALICE.login + 2 * MIN,
      detected_ms: ALICE.replay,
      trigger_event_id: `${replay['event_id']}-d`,
    },
    {
      tenant: 'acme',
      subject: 'mallory',
      jti: '',
      family_id: '',
      session_id: '',
      detector: 'verification_anomaly',
      kind: 'token with a disallowed algorithm',
      severity: 'high',
      confidence: 0.9,
      target: { kind: 'source_ip', id: SAO_PAULO.ip },
      action: 'alert_only',
      evidence: { events: [evidence(forged)], alg: 'none' },
      first_event_ms: Number(forged['time_ms']),
      detected_ms: Number(forged['time_ms']),
      trigger_event_id: String(forged['event_id']),
    },
    {
      tenant: 'globex',
      subject: 'bob',
      jti: 'jti-bob',
      family_id: '',
      session_id: '',
      detector: 'device_reuse',
      kind: 'jti used from more than one device',
      severity: 'medium',
      confidence: 0.7,
      target: { kind: 'jti', id: 'jti-bob' },
      action: 'revoke_jti',
      evidence: { events: [evidence(bob)], devices: ['bob-laptop', 'bob-phone'] },
      first_event_ms: Number(bob['time_ms']),
      detected_ms: Number(bob['time_ms']),
      trigger_event_id: String(bob['event_id']),
    },
  ];
  return findings.map((f) => toDetectionRow(toDetection(f, false, f.detected_ms + 40)));
}

/** The revocations' audit rows: every attempt, as the response stage writes them. */
export function seedRevocations(detections: DetectionRow[]): RevocationRow[] {
  const of = (detector: string, tenant = 'acme') =>
    detections.find((d) => d.detector === detector && d.tenant === tenant)!;
  const row = (
    d: DetectionRow,
    id: string,
    status: RevocationRow['status'],
    attempt: number,
    http: number,
    afterMs: number,
  ): RevocationRow => ({
    revocation_id: id,
    tenant: d.tenant,
    subject: d.subject,
    target_kind: d.target_kind as RevocationRow['target_kind'],
    target_id: d.target_id,
    status,
    attempt,
    http_status: http,
    latency_ms: 12,
    error: status === 'failed' ? 'HTTP 400: unknown family' : status === 'retrying' ? 'HTTP 503' : '',
    detection_id: d.detection_id,
    detector: d.detector,
    severity: d.severity,
    reason: d.kind,
    expires_ms: d.detected_ms + 14 * 86_400_000,
    detected_ms: d.detected_ms,
    decided_ms: d.detected_ms + 50,
    time_ms: d.detected_ms + afterMs,
  });
  const replay = of('refresh_replay');
  const travel = of('impossible_travel');
  const bob = of('device_reuse', 'globex');
  return [
    row(replay, 'rev-family', 'pending', 0, 0, 50),
    row(replay, 'rev-family', 'done', 1, 200, 120),
    row(travel, 'rev-jti', 'pending', 0, 0, 50),
    row(travel, 'rev-jti', 'retrying', 1, 503, 300),
    row(travel, 'rev-jti', 'failed', 2, 400, 1300),
    row(bob, 'rev-bob', 'suppressed', 0, 0, 60),
  ];
}

export function seedDeadLetters(): EventRow[] {
  return ['invalid_field', 'invalid_field', 'bad_json'].map((code, i) => ({
    letter_id: `letter-${i}`,
    received_at: Math.floor((SEED_T0 + 10 * MIN) / 1000),
    received_ms: SEED_T0 + 10 * MIN + i,
    door: 'http',
    tenant: 'acme',
    origin: '127.0.0.1',
    event_index: i,
    event_id: '',
    code,
    message: `seeded ${code}`,
    field: code === 'invalid_field' ? 'time' : '',
    payload: '{"time":"yesterday"}',
    payload_bytes: 20,
    truncated: 0,
  }));
}
