/**
 * Response policy per detector (pure): whether a detection leads to a revocation, and of what.
 *
 *   target      auto: what the detector asked for (its `action`: revoke_family → the family,
 *               revoke_jti → the jti, alert_only → nothing); or always jti / family / session /
 *               subject; or none (alert only)
 *   minSeverity detections below it are alert-only
 *   dryRun      decided and recorded as `dry_run`, never sent to the auth server
 *   requireStrongDevice
 *               a finding on weak device evidence (its `device_trust` is `weak`: a device id from a
 *               header or cookie) is alert-only (TOKENWATCH_POLICY_DEVICE_REVOKE_REQUIRES_STRONG)
 */
import { createHash } from 'node:crypto';
import type { Detection } from '../../detectors/detection.ts';
import { REGISTRY } from '../../detectors/registry.ts';
import type { PolicyTarget, RevocationTarget, Severity } from '../../detectors/types.ts';
import { severityRank } from '../alert.ts';

export {
  POLICY_TARGETS,
  type PolicyTarget,
  REVOCATION_TARGETS,
  type RevocationTarget,
} from '../../detectors/types.ts';

export interface DetectorPolicy {
  target: PolicyTarget;
  minSeverity: Severity;
  dryRun: boolean;
  /** revoke on device evidence only when the auth server vouches for its device ids (default false) */
  requireStrongDevice?: boolean;
}

/** Each detector's policy, by name. */
export type ResponsePolicy = Readonly<Record<string, DetectorPolicy>>;

/** The detectors' own defaults (each descriptor declares its policy: detectors/registry.ts). */
export const DEFAULT_POLICY: ResponsePolicy = REGISTRY.defaultPolicy();

/** What to revoke: one target of one tenant. */
export interface RevocationTargetRef {
  tenant: string;
  subject: string;
  target: RevocationTarget;
  id: string;
}

export type Intent =
  | { revoke: false; why: string }
  | { revoke: true; ref: RevocationTargetRef; dryRun: boolean; why: string };

/** The revocation a detection calls for under the policy (pure). */
export function intentOf(d: Detection, policy: ResponsePolicy): Intent {
  const p = policy[d.detector];
  if (p === undefined) return { revoke: false, why: `no policy for detector ${d.detector}: alert only` };
  if (p.target === 'none') return { revoke: false, why: `policy for ${d.detector}: alert only` };
  if (p.requireStrongDevice === true && d.evidence['device_trust'] === 'weak')
    return {
      revoke: false,
      why: `${d.detector} on weak device ids (sent by the client in a header or cookie): alert only, the policy requires strong ones to revoke`,
    };
  if (severityRank(d.severity) < severityRank(p.minSeverity))
    return { revoke: false, why: `severity ${d.severity} is below ${p.minSeverity}` };
  let target: RevocationTarget;
  if (p.target === 'auto') {
    if (d.action === 'alert_only') return { revoke: false, why: `${d.detector} asks for an alert only` };
    target = d.action === 'revoke_family' ? 'family' : 'jti';
  } else target = p.target;
  const id = { jti: d.jti, family: d.family_id, session: d.session_id, subject: d.subject }[target];
  if (id === '') return { revoke: false, why: `the finding has no ${target} to revoke` };
  const dryRun = d.dry_run || p.dryRun;
  const ref = { tenant: d.tenant, subject: d.subject, target, id };
  return { revoke: true, ref, dryRun, why: dryRun ? `${d.detector} is in dry-run` : `${d.detector} policy` };
}

/** Stable id of a target: one revocation per target, ever (also the auth API's Idempotency-Key). */
export function revocationId(ref: RevocationTargetRef): string {
  return createHash('sha256').update(`${ref.tenant}|${ref.target}|${ref.id}`).digest('hex').slice(0, 32);
}
