/**
 * What detectors see and what they say. Detectors are pure: step(state, event, config) →
 * { state, findings }, with no I/O and no clock other than the event's own time; the runtime
 * around them keeps the state (per tenant + subject), stores findings and acts on them.
 */
import type { EventType } from '../ingest/contract/event-v1.ts';
import type { EventRow } from '../ingest/pipeline/rows.ts';

/** The fields of a stored event (an `events` row) that detectors read. */
export type DetectorEvent = Pick<
  EventRow,
  | 'event_id'
  | 'time_ms'
  | 'tenant'
  | 'subject'
  | 'source'
  | 'session_id'
  | 'ip'
  | 'user_agent'
  | 'device_id'
  | 'outcome'
  | 'reason'
  | 'jti'
  | 'alg'
  | 'family_id'
  | 'token_id'
  | 'new_token_id'
  | 'access_jti'
  | 'country'
  | 'city'
  | 'lat'
  | 'lon'
  | 'geo_radius_km'
> & { type: EventType };

export type DetectorName = 'refresh_replay' | 'impossible_travel' | 'device_reuse' | 'verification_anomaly';
export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type Action = 'revoke_family' | 'revoke_jti' | 'alert_only';
export type TargetKind = 'family' | 'jti' | 'session' | 'source_ip' | 'subject';

/** One event as evidence: where, when, from what. */
export interface EvidenceEvent {
  event_id: string;
  type: DetectorEvent['type'];
  time_ms: number;
  ip: string;
  country: string;
  city: string;
  device_id: string;
  user_agent: string;
  outcome: string;
  reason: string;
}

export interface Finding {
  detector: DetectorName;
  /** what happened, in a few words (e.g. "rotated refresh token presented again") */
  kind: string;
  severity: Severity;
  /** 0..1: how sure the detector is */
  confidence: number;
  tenant: string;
  subject: string;
  target: { kind: TargetKind; id: string };
  jti: string;
  family_id: string;
  session_id: string;
  action: Action;
  /** the events that prove it, and the figures (distances, speeds, devices, networks) */
  evidence: { events: EvidenceEvent[]; [figure: string]: unknown };
  first_event_ms: number;
  detected_ms: number;
}

export interface StepResult<S> {
  state: S;
  findings: Finding[];
}

export function evidenceOf(e: DetectorEvent): EvidenceEvent {
  return {
    event_id: e.event_id,
    type: e.type,
    time_ms: e.time_ms,
    ip: e.ip,
    country: e.country,
    city: e.city,
    device_id: e.device_id,
    user_agent: e.user_agent,
    outcome: e.outcome,
    reason: e.reason,
  };
}
