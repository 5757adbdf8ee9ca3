/**
 * Corroboration before revoking (pure): whether a finding's evidence was reported by enough of the
 * right reporters to revoke on it. tokenwatch acts on reports, and a verifier's key is in every
 * verifier's configuration: one verifier's word must never log a user out.
 *
 * A revocation rests on one of
 *   - the auth server's own reports (every evidence event from an `auth-server` key),
 *   - a verified-signature presence (an `accepted` verification) plus an auth-server fact — for
 *     the presented jti only: the fact may be the victim's own login, the presence one verifier's
 *     invention,
 *   - at least two independent reporters (distinct keys);
 * anything else — one verifier's key alone — is alert-only. Besides:
 *   - a rejected-but-signed presence (expired, wrong_audience, revoked, …: the token is real but no
 *     longer valid, e.g. an old leaked one replayed) never revokes more than its own jti;
 *   - `reuse_detected` counts only from an auth-server key.
 * Events whose reporter is unknown — a key without a role, Kafka without a producer identity, rows
 * stored before reporters were recorded — keep the rights keys had before roles and count as the
 * auth server's (start-up warns about such keys; the gauge `tokenwatch_api_keys_without_role`).
 */

import { SIGNED_REJECTIONS } from '../../detectors/trust.ts';
import type { EvidenceEvent, Finding, RevocationTarget } from '../../detectors/types.ts';

export type Corroboration =
  | { revoke: true; basis: 'auth_server' | 'presence_and_auth_server' | 'independent_reporters' }
  | { revoke: false; why: string };

/** Who reported an evidence event, as the decision counts it. */
export function reporterOf(e: Partial<EvidenceEvent>): { id: string; role: string } {
  return { id: e.reporter_id ?? '', role: e.reporter_role ?? '' };
}

/** A reporter with the auth server's rights: an auth-server key, or one whose role is unknown (legacy). */
const authority = (e: Partial<EvidenceEvent>) => reporterOf(e).role !== 'verifier';

const signedRejection = (e: Partial<EvidenceEvent>) =>
  e.type === 'verification' && e.outcome === 'rejected' && SIGNED_REJECTIONS.has(e.reason ?? '');

/** `key (role)` of each distinct reporter, for alerts and reasons. */
export function reportersText(events: readonly Partial<EvidenceEvent>[]): string {
  const seen = new Set(
    events.map((e) => {
      const r = reporterOf(e);
      return `${r.id || 'unknown key'} (${r.role || 'no role'})`;
    }),
  );
  return [...seen].join(', ');
}

/** Whether the finding's evidence allows revoking `target` (what the policy asks for). */
export function corroborate(f: Finding, target: RevocationTarget): Corroboration {
  const events = f.evidence.events as Partial<EvidenceEvent>[];
  const signed = events.filter(signedRejection);
  if (signed.length > 0 && target !== 'jti')
    return {
      revoke: false,
      why: `the evidence includes a token rejected after its signature was verified (${[...new Set(signed.map((e) => e.reason))].join(', ')}): it proves where a real token was, not a theft now, so it never revokes more than its own jti (not the ${target})`,
    };
  if (signed.length > 0 && target === 'jti' && f.target.kind !== 'jti')
    return { revoke: false, why: 'a rejected-but-signed presence revokes its own jti only' };
  // reuse_detected is the auth server's word only.
  const counted = events.filter((e) => !(e.reason === 'reuse_detected' && !authority(e)));
  if (counted.length === 0)
    return {
      revoke: false,
      why: `nothing in the evidence counts: reuse_detected is believed from an auth-server key only (reported by ${reportersText(events)})`,
    };
  const fromAuthority = counted.filter(authority);
  if (fromAuthority.length === counted.length) return { revoke: true, basis: 'auth_server' };
  if (
    fromAuthority.length > 0 &&
    counted.some((e) => e.type === 'verification' && e.outcome === 'accepted')
  ) {
    // The auth-server fact may be the victim's own login or refresh, and the presence beside it
    // one verifier's invention (backdated at will): enough to kill the access token that verifier
    // names, never to log the user out of a family, session or every device.
    if (target === 'jti') return { revoke: true, basis: 'presence_and_auth_server' };
    return {
      revoke: false,
      why: `the evidence pairs the auth server's report with one verifier's presence (reported by ${reportersText(counted)}): that revokes the presented jti only, not the ${target}; revoking it needs the auth server's reports alone or a second, independent verifier`,
    };
  }
  const verifiers = new Set(counted.filter((e) => !authority(e)).map((e) => reporterOf(e).id));
  if (verifiers.size >= 2 && !verifiers.has('')) return { revoke: true, basis: 'independent_reporters' };
  return {
    revoke: false,
    why: `the evidence rests on one verifier's word alone (reported by ${reportersText(counted)}): revoking needs the auth server's reports or a second, independent reporter`,
  };
}
