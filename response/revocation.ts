/**
 * A revocation as the response stage records it: one row of the `revocations` table (the outbox and
 * audit log) per decision and per attempt, and the statuses it goes through. Shared by the decision
 * (decide/), which makes the first row, and the revoker (revoke/), which appends the attempts.
 */
import type { RevocationTarget } from '../contract/revocation-api-v1.ts';

export const REVOCATION_STATUSES = [
  'pending',
  'retrying',
  'done',
  'not_found',
  'failed',
  'dry_run',
  'suppressed',
  /** the auth server cannot revoke the target (no call made): only the verifiers' denylists stop it */
  'denylist_only',
] as const;
export type RevocationStatus = (typeof REVOCATION_STATUSES)[number];

/** Statuses after which a target is never revoked again. */
export const FINAL_STATUSES: ReadonlySet<RevocationStatus> = new Set([
  'done',
  'not_found',
  'failed',
  'denylist_only',
]);
/** Statuses that mean "still to do" (resumed after a restart). */
export const OPEN_STATUSES: ReadonlySet<RevocationStatus> = new Set(['pending', 'retrying']);

export interface RevocationRow {
  revocation_id: string;
  tenant: string;
  subject: string;
  target_kind: RevocationTarget;
  target_id: string;
  status: RevocationStatus;
  attempt: number;
  http_status: number;
  latency_ms: number;
  error: string;
  detection_id: string;
  detector: string;
  severity: string;
  reason: string;
  expires_ms: number;
  /** event time of the misuse that led to it */
  detected_ms: number;
  /** wall clock of the decision */
  decided_ms: number;
  time_ms: number;
}
