/**
 * impossible_travel: the same jti, session or family seen from places no one could travel between
 * in the time between: great-circle distance minus both accuracy radii, over the elapsed time,
 * above the max speed (and at least the minimum distance). Allowlisted networks (VPN egress,
 * corporate proxies), private/reserved addresses and addresses without geo are skipped, not guessed.
 */
import type { Thresholds } from './config.ts';
import { dedupe, finding } from './finding.ts';
import { distanceKm, isTelling } from './network.ts';
import {
  type Action,
  type DetectorEvent,
  type EvidenceEvent,
  evidenceOf,
  type StepResult,
  type TargetKind,
} from './types.ts';

interface Sighting {
  time_ms: number;
  lat: number;
  lon: number;
  radius_km: number;
  event: EvidenceEvent;
}

export interface ImpossibleTravelState {
  /** `jti:…`, `session:…`, `family:…` → the latest sighting with a place */
  last: Record<string, Sighting>;
  reported: Record<string, number>;
}

export const initialImpossibleTravelState = (): ImpossibleTravelState => ({ last: {}, reported: {} });

const ACTION: Record<'jti' | 'session' | 'family', Action> = {
  jti: 'revoke_jti',
  family: 'revoke_family',
  session: 'alert_only',
};

/** Whether an event says where the client was: a public, non-allowlisted address with a location. */
export function hasPlace(e: DetectorEvent, cfg: Thresholds): boolean {
  if (e.geo_radius_km === 0 && e.lat === 0 && e.lon === 0) return false;
  return isTelling(e.ip, cfg.allowlist);
}

export function stepImpossibleTravel(
  state: ImpossibleTravelState,
  e: DetectorEvent,
  cfg: Thresholds,
): StepResult<ImpossibleTravelState> {
  if (!hasPlace(e, cfg)) return { state, findings: [] };
  const keys: ['jti' | 'session' | 'family', string][] = [];
  if (e.jti !== '') keys.push(['jti', e.jti]);
  if (e.session_id !== '') keys.push(['session', e.session_id]);
  if (e.family_id !== '') keys.push(['family', e.family_id]);
  if (keys.length === 0) return { state, findings: [] };

  const last = { ...state.last };
  const found = [];
  const here: Sighting = {
    time_ms: e.time_ms,
    lat: e.lat,
    lon: e.lon,
    radius_km: e.geo_radius_km,
    event: evidenceOf(e),
  };
  for (const [kind, id] of keys) {
    const key = `${kind}:${id}`;
    const prev = last[key];
    if (prev === undefined || prev.time_ms <= e.time_ms) last[key] = here;
    if (prev === undefined) continue;
    const rawKm = distanceKm(prev.lat, prev.lon, e.lat, e.lon);
    const km = rawKm - prev.radius_km - e.geo_radius_km;
    if (km < cfg.minDistanceKm) continue;
    const hours = Math.abs(e.time_ms - prev.time_ms) / 3_600_000;
    const speed = hours === 0 ? Number.POSITIVE_INFINITY : km / hours;
    if (speed <= cfg.maxSpeedKmh) continue;
    const [first, second] = prev.time_ms <= e.time_ms ? [prev, here] : [here, prev];
    found.push(
      finding('impossible_travel', {
        kind: `${kind} used from places too far apart`,
        severity: 'high',
        confidence: speed > 3 * cfg.maxSpeedKmh ? 0.95 : 0.75,
        tenant: e.tenant,
        subject: e.subject,
        target: { kind: kind as TargetKind, id },
        jti: kind === 'jti' ? id : e.jti,
        family_id: e.family_id,
        session_id: e.session_id,
        action: ACTION[kind],
        evidence: {
          events: [first.event, second.event],
          distance_km: Math.round(rawKm),
          distance_minus_radii_km: Math.round(km),
          radii_km: [first.radius_km, second.radius_km],
          elapsed_s: Math.round(hours * 3600 * 10) / 10,
          speed_kmh: Number.isFinite(speed) ? Math.round(speed) : null,
          max_speed_kmh: cfg.maxSpeedKmh,
        },
        first_event_ms: first.time_ms,
        detected_ms: e.time_ms,
      }),
    );
  }
  return dedupe({ ...state, last }, found, cfg.dedupWindowMs);
}
