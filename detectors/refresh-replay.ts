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
import type { Thresholds } from './config.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import { networkOf } from './network.ts';
import { type FamilyState, familyOf, hash52, type KeyedState, type Sighting, sightingOf } from './state.ts';
import type { DetectorEvent, Finding } from './types.ts';

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

/** Where `token` sits among the family's rotated tokens. */
function lookup(family: FamilyState, token: string, to: string) {
  const prev = family.previous;
  if (prev !== undefined && prev.from === token) {
    return {
      behind: 0,
      rotation: prev,
      rotatedAtMs: prev.by.time_ms,
      duplicate: to !== '' && prev.to === to,
    };
  }
  const h = hash52(token);
  for (let i = family.retired.length - 3; i >= 0; i -= 3) {
    if (family.retired[i] !== h) continue;
    return {
      behind: (family.retired.length - i) / 3,
      rotation: undefined,
      rotatedAtMs: family.retired[i + 2]!,
      duplicate: to !== '' && family.retired[i + 1] === hash52(to),
    };
  }
  return undefined;
}

function isIssued(family: FamilyState, token: string): boolean {
  if (family.previous?.from === token) return true;
  const h = hash52(token);
  for (let i = 0; i < family.retired.length; i += 3) if (family.retired[i] === h) return true;
  return false;
}

function retire(family: FamilyState, from: string, to: string, atMs: number, atFront: boolean) {
  const triple = [hash52(from), hash52(to), atMs];
  if (atFront) family.retired.unshift(...triple);
  else family.retired.push(...triple);
  if (family.retired.length > 3 * MAX_RETIRED_ROTATIONS) family.retired.splice(0, 3);
}

/** Records a rotation `from → to`, keeping the newest one as `previous` whatever order reports arrive in. */
function recordRotation(family: FamilyState, e: DetectorEvent, known: ReturnType<typeof lookup>) {
  const { token_id: from, new_token_id: to } = e;
  if (known !== undefined) {
    // The previous token rotated a second time (two tabs, a retry): the newest issued is current.
    if (known.behind === 0 && !known.duplicate) family.current = to;
    return;
  }
  if (isIssued(family, to)) {
    retire(family, from, to, e.time_ms, true); // a late report of an older rotation
    return;
  }
  const prev = family.previous;
  if (prev !== undefined) retire(family, prev.from, prev.to, prev.by.time_ms, false);
  family.previous = { from, to, by: sightingOf(e) };
  family.current = to;
}

export function detectRefreshReplay(k: KeyedState, e: DetectorEvent, cfg: Thresholds): Finding[] {
  if (e.family_id === '' || (e.type !== 'refresh' && e.type !== 'issuance' && e.type !== 'revocation')) {
    return [];
  }
  const family = familyOf(k.subject, e.family_id, e);
  if (e.type === 'revocation') {
    if (family.revokedAtMs < 0 || e.time_ms < family.revokedAtMs) family.revokedAtMs = e.time_ms;
    return [];
  }
  if (e.type === 'issuance') {
    if (e.token_id !== '' && family.current === '') family.current = e.token_id;
    return [];
  }

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
    const by = known.rotation?.by;
    const elapsedMs = e.time_ms - known.rotatedAtMs;
    // An older token is compared with the family's latest rotation: its holder is the owner.
    const holder = by ?? family.previous?.by;
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
