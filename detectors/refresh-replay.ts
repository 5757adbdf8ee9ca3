/**
 * refresh_replay: a refresh token that was already rotated is presented again.
 *
 * Benign only when all hold: within the grace window of its rotation, with matching evidence (the
 * same device_id; without device ids, the same network — /24, /48 — and the same user agent), and
 * only for the immediately previous token (nothing rotated since). Anything else is replay: revoke
 * the family. Also a finding when the auth server itself reports `reuse_detected` (from an
 * auth-server key, or one without a role; never from a verifier's), and when a revoked family is
 * presented again (the attacker is still trying). A token id presented with a wrong secret
 * (`invalid_secret`) is not a presentation of the token — its sender did not hold it — and is an
 * alert of its own, never a replay.
 *
 * Judged as of each presentation's event time, not as of what arrived before it: several auth-server
 * instances report one family, producers retry and batch, so reports reach a partition out of order.
 * A token's rotation is its earliest presentation in event time; "rotated since" counts the family's
 * first rotations between that one and the presentation. A presentation that arrives late (behind the
 * family's newest) is put in its place, and the later presentations of the last allowed lateness are
 * judged again — a late event can show that one of them was a replay (an earlier rotation it did not
 * know of); what was reported stays reported. Later than the allowed lateness, a presentation is judged
 * with what is left (older presentations are kept only as rotations) and its finding says how late it
 * came. The cost: the presentations of the last allowed lateness per family (a sighting each), and
 * re-judging them when one comes late — nothing waits: in-order reports are judged at once.
 *
 * The same rotation reported twice (Kafka redelivers, a rebuild re-reads) is recognised by its
 * (token, new token) pair, and any presentation by its event id, and never mistaken for a replay.
 */

import { Type } from '@sinclair/typebox';
import { networkOf } from '../platform/net/network.ts';
import { defineDetector, type ThresholdsOf } from './descriptor.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import {
  type FamilyState,
  familyOf,
  hash52,
  type KeyedState,
  Presentation,
  presentationsList,
  type Sighting,
  sightingOf,
} from './state.ts';
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

/** First rotations remembered per family (hash, hash, time: 24 bytes each); older tokens are forgotten. */
export const MAX_RETIRED_ROTATIONS = 128;
/** Presentations kept per family for re-judging (a flood of reports of one family cannot grow it). */
const MAX_RECENT = 64;

const REPORTED_REPLAY = 1;
const REPORTED_REVOKED = 2;

function sameClient(by: Sighting, e: Sighting): { same: boolean; by: 'device' | 'network+user_agent' } {
  if (by.device_id !== '' && e.device_id !== '') return { same: by.device_id === e.device_id, by: 'device' };
  const network = networkOf(by.ip);
  return {
    same: network !== '' && network === networkOf(e.ip) && by.user_agent === e.user_agent,
    by: 'network+user_agent',
  };
}

/** The index (in triples) of `from`'s first rotation, or -1. */
function firstRotationOf(family: FamilyState, from: number): number {
  const r = family.rotations ?? [];
  for (let i = 0; i < r.length; i += 3) if (r[i] === from) return i;
  return -1;
}

/** Records `p` as the first rotation of its token: in event-time order, replacing a later one. */
function recordFirstRotation(family: FamilyState, p: Presentation, replacing: number) {
  const t = p.by.time_ms;
  const old = family.rotations ?? [];
  const kept: number[] = [];
  for (let i = 0; i < old.length; i += 3) if (i !== replacing) kept.push(old[i]!, old[i + 1]!, old[i + 2]!);
  let at = kept.length;
  while (at >= 3 && kept[at - 1]! > t) at -= 3;
  kept.splice(at, 0, p.from, p.to, t);
  // slice: an array of exactly the size (one built by push keeps spare capacity).
  family.rotations = kept.slice(kept.length > 3 * MAX_RETIRED_ROTATIONS ? 3 : 0);
  if (at === kept.length - 3) family.latestBy = p.by;
}

/** Puts `p` among the recent presentations, in event-time order. */
function keep(family: FamilyState, p: Presentation) {
  const recent = presentationsList(family.recent);
  if (recent.length === 0) {
    family.recent = p;
    return;
  }
  if (!Array.isArray(family.recent)) family.recent = recent;
  let at = recent.length;
  while (at > 0 && recent[at - 1]!.by.time_ms > p.by.time_ms) at--;
  recent.splice(at, 0, p);
  if (recent.length > MAX_RECENT) recent.shift();
}

/** Forgets the presentations no late report can change any more. */
function forget(family: FamilyState, keepMs: number) {
  const recent = presentationsList(family.recent);
  const from = family.newestMs - keepMs;
  let n = 0;
  while (n < recent.length && recent[n]!.by.time_ms < from) n++;
  if (n === 0) return;
  // One alone, or a fresh array of the size left (a grown one keeps its capacity): most families keep one.
  family.recent = n === recent.length ? undefined : n === recent.length - 1 ? recent[n] : recent.slice(n);
}

const isDuplicate = (family: FamilyState, e: DetectorEvent, from: number, to: number) => {
  const here = sightingOf(e);
  if (
    presentationsList(family.recent).some(
      (p) => p.by.sameEvent(here) || (to >= 0 && p.from === from && p.to === to),
    )
  )
    return true;
  const i = to < 0 ? -1 : firstRotationOf(family, from);
  return i >= 0 && family.rotations![i + 1] === to;
};

/** What `p` shows as of its own event time (a replay, a revoked family presented again), or nothing. */
function judge(
  family: FamilyState,
  p: Presentation,
  e: DetectorEvent,
  cfg: Cfg,
  lateMs: number,
): Finding | undefined {
  const at = p.by.time_ms;
  const base = {
    ...fromEvent(e),
    detected_ms: at,
    trigger_event_id: p.by.event_id,
    target: { kind: 'family' as const, id: e.family_id },
  };
  const late = lateMs > cfg.allowedLatenessMs ? { late_ms: lateMs } : {};
  // the auth server's own reuse report is its own finding (detect), revoked family or not
  if (p.by.what.endsWith('/reuse_detected') && p.by.reporter.role !== 'verifier') return undefined;
  if (family.revokedAtMs >= 0 && at >= family.revokedAtMs) {
    if (p.reported >= REPORTED_REVOKED) return undefined;
    p.reported = REPORTED_REVOKED;
    return finding('refresh_replay', {
      ...base,
      kind: 'revoked family presented again',
      severity: 'high',
      confidence: 1,
      action: 'alert_only',
      evidence: { events: [p.by.evidence()], revoked_at_ms: family.revokedAtMs, ...late },
      first_event_ms: family.revokedAtMs,
    });
  }
  if (p.reported !== 0 || p.by.what.endsWith('/reuse_detected')) return undefined;
  const i = firstRotationOf(family, p.from);
  if (i < 0) return undefined;
  const rotations = family.rotations!;
  const rotatedAtMs = rotations[i + 2]!;
  const first = rotatedAtMs < at || (rotatedAtMs === at && rotations[i + 1] !== p.to);
  if (!first) return undefined; // this is the token's first rotation
  let behind = 0;
  for (let j = i + 3; j < rotations.length && rotations[j + 2]! < at; j += 3) behind++;
  const elapsedMs = at - rotatedAtMs;
  // The token's rotation, while it is recent; for an older token the family's latest: its holder is the owner.
  const holder =
    presentationsList(family.recent).find(
      (r) => r.from === p.from && r.to === rotations[i + 1] && r.by.time_ms === rotatedAtMs,
    )?.by ?? family.latestBy;
  const client = holder === undefined ? undefined : sameClient(holder, p.by);
  const benign = behind === 0 && elapsedMs <= cfg.graceWindowMs && client?.same === true;
  if (benign) return undefined;
  p.reported = REPORTED_REPLAY;
  const sameDevice = client?.same ?? false;
  return finding('refresh_replay', {
    ...base,
    jti: e.access_jti,
    kind: 'rotated refresh token presented again',
    severity: sameDevice ? 'high' : 'critical',
    confidence: sameDevice ? 0.8 : 0.99,
    action: 'revoke_family',
    evidence: {
      // the rotation of this token (the previous one) or, for an older token, the family's latest
      events:
        holder === undefined || holder === p.by ? [p.by.evidence()] : [holder.evidence(), p.by.evidence()],
      rotated_at_ms: rotatedAtMs,
      elapsed_ms: elapsedMs,
      grace_window_ms: cfg.graceWindowMs,
      same_client: sameDevice,
      compared_by: client?.by ?? null,
      generations_behind: behind,
      ...late,
    },
    first_event_ms: rotatedAtMs,
  });
}

export function detectRefreshReplay(k: KeyedState, e: DetectorEvent, cfg: Cfg): Finding[] {
  if (e.family_id === '' || (e.type !== 'refresh' && e.type !== 'issuance' && e.type !== 'revocation')) {
    return [];
  }
  const family = familyOf(k.subject, e.family_id, e);
  const found: Finding[] = [];
  if (e.type === 'revocation') {
    if (family.revokedAtMs >= 0 && e.time_ms >= family.revokedAtMs) return [];
    family.revokedAtMs = e.time_ms;
    // A revocation reported late: the presentations after it were of a revoked family.
    for (const p of presentationsList(family.recent)) {
      if (p.by.time_ms < e.time_ms) continue;
      const f = judge(family, p, e, cfg, 0);
      if (f !== undefined) found.push({ ...f, jti: '', session_id: '' });
    }
    return found.filter((f) => firstInWindow(k.subject, f, cfg.dedupWindowMs));
  }
  if (e.type === 'issuance') return [];

  // A known token id with a wrong secret: the sender did not hold the token, so it is no use of it
  // (no replay, no rotation, no presence): an alert of its own, never a revocation of the family.
  if (e.reason === 'invalid_secret') {
    const f = finding('refresh_replay', {
      ...fromEvent(e),
      target: { kind: 'family', id: e.family_id },
      jti: '',
      kind: 'refresh token presented with a wrong secret',
      severity: 'medium',
      confidence: 0.9,
      action: 'alert_only',
      evidence: { events: [sightingOf(e).evidence()] },
      first_event_ms: e.time_ms,
    });
    return firstInWindow(k.subject, f, cfg.dedupWindowMs) ? [f] : [];
  }

  // A refresh: the token `token_id` of the family was presented.
  const lateMs = Math.max(0, family.newestMs - e.time_ms);
  if (e.time_ms > family.newestMs) family.newestMs = e.time_ms;
  const from = e.token_id === '' ? -1 : hash52(e.token_id);
  const to = e.outcome === 'rotated' && e.new_token_id !== '' && from >= 0 ? hash52(e.new_token_id) : -1;
  if (isDuplicate(family, e, from, to)) return [];
  const p = new Presentation(from, to, sightingOf(e));

  // Reuse is the auth server's word: a verifier's key cannot say it (refused at the door; and here).
  // It asks for the family's revocation even when the family is already revoked: a server that
  // revokes the family on reuse (oidc-provider reports `grant.revoked` just before the refused
  // refresh) stops its own tokens, not the JWT access tokens the thief holds — only tokenwatch's
  // revocation notices reach the verifiers' denylists. Its presentation is then never also the
  // "revoked family presented again" alert (judge), in whichever order the two are reported.
  if (e.reason === 'reuse_detected' && e.reporter_role !== 'verifier') {
    found.push(
      finding('refresh_replay', {
        ...fromEvent(e),
        target: { kind: 'family', id: e.family_id },
        jti: e.access_jti,
        kind: 'auth server reported refresh token reuse',
        severity: 'high',
        confidence: 1,
        action: 'revoke_family',
        evidence: { events: [p.by.evidence()] },
        first_event_ms: e.time_ms,
      }),
    );
  }
  if (from >= 0) {
    if (to >= 0) {
      const i = firstRotationOf(family, from);
      if (i < 0 || e.time_ms < family.rotations![i + 2]!) recordFirstRotation(family, p, i);
    }
    keep(family, p);
    const judged = judge(family, p, e, cfg, lateMs);
    if (judged !== undefined) found.push(judged);
    // Reported late: what came after it in event time is judged again, knowing it.
    if (lateMs > 0)
      for (const q of presentationsList(family.recent))
        if (q.by.time_ms > e.time_ms || (q.by.time_ms === e.time_ms && q !== p)) {
          const f = judge(family, q, e, cfg, 0);
          if (f !== undefined) found.push({ ...f, jti: '', session_id: '' });
        }
    forget(family, Math.max(cfg.allowedLatenessMs, cfg.graceWindowMs));
  } else if (family.revokedAtMs >= 0 && e.time_ms >= family.revokedAtMs) {
    const f = judge(family, p, e, cfg, lateMs);
    if (f !== undefined) found.push(f);
  }
  return found.filter((f) => firstInWindow(k.subject, f, cfg.dedupWindowMs));
}

export const refreshReplay = defineDetector({
  name: 'refresh_replay',
  finds:
    'a rotated refresh token presented again — benign only within the grace window AND from the same device (without device ids: same /24·/48 network and user agent) AND for the immediately previous token; the auth server’s own `reuse_detected`; a revoked family presented again; a token id presented with a wrong secret (`invalid_secret`, alert only: not a use of the token)',
  asks: 'revoke the family (a revoked family: alert only); critical from another client, high from the same one',
  category: 'token_reuse',
  thresholds: REFRESH_REPLAY_THRESHOLDS,
  policy: { target: 'auto', minSeverity: 'high' },
  detect: detectRefreshReplay,
});
