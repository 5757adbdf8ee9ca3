/**
 * refresh_replay: a refresh token that was already rotated is presented again.
 *
 * Benign only when all hold: within the grace window of its rotation, with matching evidence (the
 * same device_id; without device ids, the same network — /24, /48 — and the same user agent), and
 * only for the immediately previous token (nothing rotated since). Anything else is replay: revoke
 * the family. Also a finding when the auth server itself reports `reuse_detected`, and when a
 * revoked family is presented again (the attacker is still trying).
 *
 * The same rotation reported twice (Kafka redelivers, a rebuild re-reads) is recognised by its
 * (token, new token) pair and never mistaken for a replay.
 */

import { Type } from '@sinclair/typebox';
import { networkOf } from '../platform/net/network.ts';
import { defineDetector, type ThresholdsOf } from './descriptor.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import { type FamilyState, familyOf, hash52, type KeyedState, type Sighting, sightingOf } from './state.ts';
import type { DetectorEvent, Finding } from './types.ts';

export const REFRESH_REPLAY_THRESHOLDS = {
  graceWindowMs: Type.Integer({
    minimum: 0,
    default: 30_000,
    description:
      'a rotated refresh token presented again this soon (ms), by the same client and for the previous token only, is a benign race (two tabs, a retry)',
  }),
};
type Cfg = ThresholdsOf<typeof REFRESH_REPLAY_THRESHOLDS>;

/** Older rotations remembered per family (hash, hash, time: 24 bytes each); older tokens are forgotten. */
export const MAX_RETIRED_ROTATIONS = 128;

function sameClient(by: Sighting, e: DetectorEvent): { same: boolean; by: 'device' | 'network+user_agent' } {
  if (by.device_id !== '' && e.device_id !== '') return { same: by.device_id === e.device_id, by: 'device' };
  const network = networkOf(by.ip);
  return {
    same: network !== '' && network === networkOf(e.ip) && by.user_agent === e.user_agent,
    by: 'network+user_agent',
  };
}

interface Known {
  /** rotations since the one that retired the token */
  behind: number;
  /** the rotation event, for the immediately previous token */
  by: Sighting | undefined;
  rotatedAtMs: number;
  /** the same rotation (token → same successor) reported again */
  duplicate: boolean;
}

/** Where `token` sits among the family's rotated tokens; undefined when it was never rotated. */
function lookup(family: FamilyState, token: string, to: string): Known | undefined {
  const h = hash52(token);
  if (family.prevBy !== undefined && family.prevFrom === h) {
    return {
      behind: 0,
      by: family.prevBy,
      rotatedAtMs: family.prevBy.time_ms,
      duplicate: to !== '' && family.prevTo === hash52(to),
    };
  }
  const retired = family.retired ?? [];
  for (let i = retired.length - 3; i >= 0; i -= 3) {
    if (retired[i] !== h) continue;
    return {
      behind: (retired.length - i) / 3,
      by: undefined,
      rotatedAtMs: retired[i + 2]!,
      duplicate: to !== '' && retired[i + 1] === hash52(to),
    };
  }
  return undefined;
}

/** Whether `token` was presented and rotated before (its successor was already known). */
function wasRotated(family: FamilyState, token: string): boolean {
  const h = hash52(token);
  if (family.prevBy !== undefined && family.prevFrom === h) return true;
  const retired = family.retired ?? [];
  for (let i = 0; i < retired.length; i += 3) if (retired[i] === h) return true;
  return false;
}

/** Adds a rotation to the retired ones, in a new array of exactly the right size (push would over-allocate). */
function retire(family: FamilyState, from: number, to: number, atMs: number, atFront: boolean) {
  const old = family.retired ?? [];
  const kept = old.length >= 3 * MAX_RETIRED_ROTATIONS ? old.slice(3) : old;
  family.retired = atFront ? [from, to, atMs, ...kept] : [...kept, from, to, atMs];
}

/** Records a rotation `from → to`, keeping the newest one as the previous whatever order reports arrive in. */
function recordRotation(family: FamilyState, e: DetectorEvent, known: Known | undefined) {
  if (known !== undefined) return; // the previous token again (two tabs, a retry), or a replay
  if (wasRotated(family, e.new_token_id)) {
    // a late report of an older rotation
    retire(family, hash52(e.token_id), hash52(e.new_token_id), e.time_ms, true);
    return;
  }
  if (family.prevBy !== undefined)
    retire(family, family.prevFrom, family.prevTo, family.prevBy.time_ms, false);
  family.prevFrom = hash52(e.token_id);
  family.prevTo = hash52(e.new_token_id);
  family.prevBy = sightingOf(e);
}

export function detectRefreshReplay(k: KeyedState, e: DetectorEvent, cfg: Cfg): Finding[] {
  if (e.family_id === '' || (e.type !== 'refresh' && e.type !== 'issuance' && e.type !== 'revocation')) {
    return [];
  }
  const family = familyOf(k.subject, e.family_id, e);
  if (e.type === 'revocation') {
    if (family.revokedAtMs < 0 || e.time_ms < family.revokedAtMs) family.revokedAtMs = e.time_ms;
    return [];
  }
  if (e.type === 'issuance') return [];

  // A refresh: the token `token_id` of the family was presented.
  const found: Finding[] = [];
  const base = {
    ...fromEvent(e),
    target: { kind: 'family' as const, id: e.family_id },
    jti: e.access_jti,
  };
  const revoked = family.revokedAtMs >= 0;
  if (revoked && e.time_ms >= family.revokedAtMs) {
    found.push(
      finding('refresh_replay', {
        ...base,
        kind: 'revoked family presented again',
        severity: 'high',
        confidence: 1,
        action: 'alert_only',
        evidence: { events: [sightingOf(e).evidence()], revoked_at_ms: family.revokedAtMs },
        first_event_ms: family.revokedAtMs,
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
        evidence: { events: [sightingOf(e).evidence()] },
        first_event_ms: e.time_ms,
      }),
    );
  }

  const rotatedTo = e.outcome === 'rotated' ? e.new_token_id : '';
  const known = e.token_id === '' ? undefined : lookup(family, e.token_id, rotatedTo);
  if (known !== undefined && !known.duplicate && e.reason !== 'reuse_detected' && !revoked) {
    const by = known.by;
    const elapsedMs = e.time_ms - known.rotatedAtMs;
    // An older token is compared with the family's latest rotation: its holder is the owner.
    const holder = by ?? family.prevBy;
    const client = holder === undefined ? undefined : sameClient(holder, e);
    const benign =
      known.behind === 0 && elapsedMs >= 0 && elapsedMs <= cfg.graceWindowMs && client?.same === true;
    if (!benign) {
      const sameDevice = client?.same ?? false;
      found.push(
        finding('refresh_replay', {
          ...base,
          kind: 'rotated refresh token presented again',
          severity: sameDevice ? 'high' : 'critical',
          confidence: sameDevice ? 0.8 : 0.99,
          action: 'revoke_family',
          evidence: {
            // the rotation of this token (the previous one) or, for an older token, the family's latest
            events:
              holder === undefined
                ? [sightingOf(e).evidence()]
                : [holder.evidence(), sightingOf(e).evidence()],
            rotated_at_ms: known.rotatedAtMs,
            elapsed_ms: elapsedMs,
            grace_window_ms: cfg.graceWindowMs,
            same_client: sameDevice,
            compared_by: client?.by ?? null,
            generations_behind: known.behind,
          },
          first_event_ms: known.rotatedAtMs,
        }),
      );
    }
  }

  if (rotatedTo !== '' && e.token_id !== '') recordRotation(family, e, known);
  return found.filter((f) => firstInWindow(k.subject, f, cfg.dedupWindowMs));
}

export const refreshReplay = defineDetector({
  name: 'refresh_replay',
  finds:
    'a rotated refresh token presented again — benign only within the grace window AND from the same device (without device ids: same /24·/48 network and user agent) AND for the immediately previous token; the auth server’s own `reuse_detected`; a revoked family presented again',
  asks: 'revoke the family (a revoked family: alert only); critical from another client, high from the same one',
  category: 'token_reuse',
  thresholds: REFRESH_REPLAY_THRESHOLDS,
  policy: { target: 'auto', minSeverity: 'high' },
  detect: detectRefreshReplay,
});
