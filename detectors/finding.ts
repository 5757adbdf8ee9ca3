/** Building findings and keeping to one finding per (detector, kind, target) per window. */
import type { DetectorEvent, Finding } from './types.ts';

export function finding(detector: string, fields: Omit<Finding, 'detector'>): Finding {
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
    trigger_event_id: e.event_id,
  };
}

export const findingKey = (f: Finding) => `${f.detector}|${f.kind}|${f.target.kind}|${f.target.id}`;

/**
 * Whether `f` is new: at least `windowMs` (event time) after the last finding for the same target.
 * Records it when it is. A finding older than the last one reported is never new: the target was
 * reported already, and events delivered again (Kafka redelivery, a rebuild) report nothing twice.
 */
export function firstInWindow(
  holder: { reported: Map<string, number> | undefined },
  f: Finding,
  windowMs: number,
): boolean {
  const key = findingKey(f);
  const last = holder.reported?.get(key);
  if (last !== undefined && f.detected_ms - last < windowMs) return false;
  holder.reported ??= new Map();
  holder.reported.set(key, f.detected_ms);
  return true;
}
