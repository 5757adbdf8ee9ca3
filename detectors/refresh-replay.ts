/**
 * refresh_replay: a refresh token that was already rotated is presented again.
 *
 * Benign only when all hold: within the grace window of its rotation, with matching evidence (the
 * same device_id; without device ids, the same network — /24, /48 — and the same user agent), and
 * only for the immediately previous token (nothing rotated since). Anything else is replay: revoke
 * the family. Also a finding when the auth server itself reports `reuse_detected`, and when a
 * revoked family is presented again (the attacker is still trying).
 */
import type { Thresholds } from './config.ts';
import { dedupe, finding } from './finding.ts';
import { networkOf } from './network.ts';
import {
  type DetectorEvent,
  type EvidenceEvent,
  evidenceOf,
  type Finding,
  type StepResult,
} from './types.ts';

interface Rotation {
  at: number;
  to: string;
  network: string;
  event: EvidenceEvent;
}

interface FamilyState {
  /** token_id → how it was rotated */
  rotated: Record<string, Rotation>;
  /** the newest token of the family (issued last) */
  current: string;
  revokedAt: number | undefined;
  lastSeenMs: number;
}

export interface RefreshReplayState {
  families: Record<string, FamilyState>;
  /** finding key → when it was last reported (one finding per target per window) */
  reported: Record<string, number>;
}

export const initialRefreshReplayState = (): RefreshReplayState => ({ families: {}, reported: {} });

function sameClient(a: Rotation, e: DetectorEvent): { same: boolean; by: 'device' | 'network+user_agent' } {
  if (a.event.device_id !== '' && e.device_id !== '')
    return { same: a.event.device_id === e.device_id, by: 'device' };
  return {
    same: a.network !== '' && a.network === networkOf(e.ip) && a.event.user_agent === e.user_agent,
    by: 'network+user_agent',
  };
}

/** How many rotations happened after the one that retired `token`. */
function generationsBehind(family: FamilyState, rotation: Rotation): number {
  let n = 0;
  for (let t = rotation.to; family.rotated[t] !== undefined && n < 1000; t = family.rotated[t]!.to) n++;
  return n;
}

export function stepRefreshReplay(
  state: RefreshReplayState,
  e: DetectorEvent,
  cfg: Thresholds,
): StepResult<RefreshReplayState> {
  if (e.family_id === '' || (e.type !== 'refresh' && e.type !== 'issuance' && e.type !== 'revocation')) {
    return { state, findings: [] };
  }
  const prev = state.families[e.family_id];
  const family: FamilyState = prev
    ? { ...prev, rotated: { ...prev.rotated }, lastSeenMs: Math.max(prev.lastSeenMs, e.time_ms) }
    : { rotated: {}, current: '', revokedAt: undefined, lastSeenMs: e.time_ms };
  const next: RefreshReplayState = {
    families: { ...state.families, [e.family_id]: family },
    reported: state.reported,
  };
  const found: Finding[] = [];
  const base = {
    tenant: e.tenant,
    subject: e.subject,
    target: { kind: 'family' as const, id: e.family_id },
    family_id: e.family_id,
    jti: e.access_jti,
    session_id: e.session_id,
  };

  if (e.type === 'revocation') {
    family.revokedAt = Math.min(family.revokedAt ?? e.time_ms, e.time_ms);
    return { state: next, findings: [] };
  }
  if (e.type === 'issuance') {
    if (e.token_id !== '' && family.current === '') family.current = e.token_id;
    return { state: next, findings: [] };
  }

  // A refresh: the token `token_id` of the family was presented.
  if (family.revokedAt !== undefined && e.time_ms >= family.revokedAt) {
    found.push(
      finding('refresh_replay', {
        ...base,
        kind: 'revoked family presented again',
        severity: 'high',
        confidence: 1,
        action: 'alert_only',
        evidence: { events: [evidenceOf(e)], revoked_at_ms: family.revokedAt },
        first_event_ms: family.revokedAt,
        detected_ms: e.time_ms,
      }),
    );
  } else if (e.reason === 'reuse_detected') {
    found.push(
      finding('refresh_replay', {
        ...base,
        kind: 'auth server reported refresh token reuse',
        severity: 'high',
        confidence: 1,
        action: 'revoke_family',
        evidence: { events: [evidenceOf(e)] },
        first_event_ms: e.time_ms,
        detected_ms: e.time_ms,
      }),
    );
  }

  const rotation = family.rotated[e.token_id];
  const duplicateReport = rotation !== undefined && e.outcome === 'rotated' && rotation.to === e.new_token_id;
  if (
    rotation !== undefined &&
    !duplicateReport &&
    e.reason !== 'reuse_detected' &&
    family.revokedAt === undefined
  ) {
    const elapsedMs = e.time_ms - rotation.at;
    const client = sameClient(rotation, e);
    const behind = generationsBehind(family, rotation);
    const benign = elapsedMs >= 0 && elapsedMs <= cfg.graceWindowMs && client.same && behind === 0;
    if (!benign) {
      found.push(
        finding('refresh_replay', {
          ...base,
          kind: 'rotated refresh token presented again',
          severity: client.same ? 'high' : 'critical',
          confidence: client.same ? 0.8 : 0.99,
          action: 'revoke_family',
          evidence: {
            events: [rotation.event, evidenceOf(e)],
            elapsed_ms: elapsedMs,
            grace_window_ms: cfg.graceWindowMs,
            same_client: client.same,
            compared_by: client.by,
            generations_behind: behind,
          },
          first_event_ms: rotation.at,
          detected_ms: e.time_ms,
        }),
      );
    }
  }

  if (e.outcome === 'rotated' && e.new_token_id !== '') {
    if (rotation === undefined) {
      family.rotated[e.token_id] = {
        at: e.time_ms,
        to: e.new_token_id,
        network: networkOf(e.ip),
        event: evidenceOf(e),
      };
    }
    if (rotation === undefined || generationsBehind(family, rotation) === 0) family.current = e.new_token_id;
  }

  return dedupe(next, found, cfg.dedupWindowMs);
}
