/** A finding as tokenwatch records it: with an id, the dry-run flag and the wall-clock detection time. */
import { createHash } from 'node:crypto';
import type { RESPONSE_DECISIONS } from '../contract/finding-v1.ts';
import { stringifyWellFormed } from '../platform/text.ts';
import type { Finding } from './types.ts';

/**
 * What the response stage decided: '' before it decided (or with no response stage), `revoke`
 * (a revocation is under way), `dry_run`, `suppressed` (by the blast-radius guard), `alert_only`
 * (policy) or `duplicate` (its target was revoked already, for another detection).
 */
export type ResponseDecision = (typeof RESPONSE_DECISIONS)[number];

export interface Detection extends Finding {
  /** deterministic: the same finding from a redelivered event has the same id (and is stored once) */
  detection_id: string;
  /** reported only: the response stage never acts on it */
  dry_run: boolean;
  /** wall clock when tokenwatch found it (ms) */
  found_at_ms: number;
  /** when the finding's access token (`jti`) expires, as far as tokenwatch saw (ms; 0: unknown) */
  jti_expires_ms: number;
  response: ResponseDecision;
  /** the revocation the response stage decided on for it ('' when none) */
  revocation_id: string;
}

export function detectionId(f: Finding): string {
  return createHash('sha256')
    .update(`${f.detector}|${f.kind}|${f.target.kind}|${f.target.id}|${f.trigger_event_id}`)
    .digest('hex')
    .slice(0, 32);
}

export function toDetection(f: Finding, dryRun: boolean, foundAtMs: number, jtiExpiresMs = 0): Detection {
  return {
    ...f,
    detection_id: detectionId(f),
    dry_run: dryRun,
    found_at_ms: foundAtMs,
    jti_expires_ms: jtiExpiresMs,
    response: '',
    revocation_id: '',
  };
}

/** The `detections` row (ClickHouse, JSONEachRow). */
export function toDetectionRow(d: Detection) {
  return {
    detection_id: d.detection_id,
    detector: d.detector,
    kind: d.kind,
    severity: d.severity,
    confidence: d.confidence,
    action: d.action,
    dry_run: d.dry_run ? 1 : 0,
    tenant: d.tenant,
    subject: d.subject,
    target_kind: d.target.kind,
    target_id: d.target.id,
    jti: d.jti,
    family_id: d.family_id,
    session_id: d.session_id,
    event_ids: d.evidence.events.map((e) => e.event_id),
    evidence_ips: d.evidence.events.map((e) => e.ip),
    evidence_countries: d.evidence.events.map((e) => e.country),
    evidence_cities: d.evidence.events.map((e) => e.city),
    evidence_lats: d.evidence.events.map((e) => e.lat),
    evidence_lons: d.evidence.events.map((e) => e.lon),
    evidence_times_ms: d.evidence.events.map((e) => e.time_ms),
    evidence_reporters: d.evidence.events.map((e) => e.reporter_id ?? ''),
    evidence_roles: d.evidence.events.map((e) => e.reporter_role ?? ''),
    evidence: stringifyWellFormed(d.evidence),
    trigger_event_id: d.trigger_event_id,
    first_event_time: Math.floor(d.first_event_ms / 1000),
    first_event_ms: d.first_event_ms,
    detected_time: Math.floor(d.detected_ms / 1000),
    detected_ms: d.detected_ms,
    found_at: Math.floor(d.found_at_ms / 1000),
    found_at_ms: d.found_at_ms,
    response: d.response,
    revocation_id: d.revocation_id,
  };
}

export type DetectionRow = ReturnType<typeof toDetectionRow>;

/** A stored row back to a Detection (for the API and the response stage). */
export function fromDetectionRow(r: DetectionRow): Detection {
  return {
    detection_id: r.detection_id,
    detector: r.detector,
    kind: r.kind,
    severity: r.severity,
    confidence: Number(r.confidence),
    action: r.action,
    dry_run: Number(r.dry_run) === 1,
    tenant: r.tenant,
    subject: r.subject,
    target: { kind: r.target_kind, id: r.target_id },
    jti: r.jti,
    family_id: r.family_id,
    session_id: r.session_id,
    evidence: JSON.parse(r.evidence) as Detection['evidence'],
    trigger_event_id: r.trigger_event_id,
    first_event_ms: Number(r.first_event_ms),
    detected_ms: Number(r.detected_ms),
    found_at_ms: Number(r.found_at_ms),
    jti_expires_ms: 0,
    response: r.response,
    revocation_id: r.revocation_id,
  };
}
