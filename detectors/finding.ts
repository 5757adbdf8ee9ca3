/** Building findings and keeping to one finding per (detector, kind, target) per window. */
import type { DetectorEvent, DetectorName, Finding, StepResult } from './types.ts';

export function finding(detector: DetectorName, fields: Omit<Finding, 'detector'>): Finding {
  return { detector, ...fields };
}

/** The fields every finding copies from the event that triggered it. */
export function fromEvent(e: DetectorEvent) {
  return {
    tenant: e.tenant,
    subject: e.subject,
    jti: e.jti,
    family_id: e.family_id,
    session_id: e.session_id,
    detected_ms: e.time_ms,
  };
}

export const findingKey = (f: Finding) => `${f.detector}|${f.kind}|${f.target.kind}|${f.target.id}`;

/**
 * Drops findings already reported for the same target within `windowMs` (by event time) and
 * records the others; entries older than the window are forgotten, so the record stays small.
 */
export function dedupe<S extends { reported: Record<string, number> }>(
  state: S,
  found: Finding[],
  windowMs: number,
): StepResult<S> {
  if (found.length === 0) return { state, findings: found };
  const reported: Record<string, number> = {};
  const now = Math.max(...found.map((f) => f.detected_ms));
  for (const [key, at] of Object.entries(state.reported)) if (now - at < windowMs) reported[key] = at;
  const kept: Finding[] = [];
  for (const f of found) {
    const key = findingKey(f);
    const last = reported[key];
    if (last !== undefined && f.detected_ms - last < windowMs) continue;
    reported[key] = f.detected_ms;
    kept.push(f);
  }
  return { state: { ...state, reported }, findings: kept };
}
