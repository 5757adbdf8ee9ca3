/**
 * key_mismatch: a sender-constrained token (DPoP `cnf.jkt`, RFC 9449; mTLS `cnf["x5t#S256"]`,
 * RFC 8705) presented with a proof by another key than the one it is bound to. The token's
 * signature was verified and only its holder has the bound key: whoever proved with another key
 * copied the token. A theft attempt — critical; the family is revoked (the verifier refused the
 * request already, but the thief has the refresh token too, or will try again).
 *
 * Access tokens rarely name their family: the family of a bound token is learned from the auth
 * server's issuance and refresh events (their `access_jti` and `family_id`); a mismatch on a token
 * whose family is not known (yet) revokes the token's jti instead.
 */
import { defineDetector } from './descriptor.ts';
import { finding, firstInWindow, fromEvent } from './finding.ts';
import { type KeyedState, ownState, type Sighting, sightingOf } from './state.ts';
import { claimsVerified } from './trust.ts';
import type { DetectorEvent, Finding } from './types.ts';

const NAME = 'key_mismatch';

/** Bound access tokens whose family the auth server reported, per subject: the newest few. */
const TOKENS_KEPT = 64;

interface Issued {
  family_id: string;
  /** the auth server's event that issued it (the binding's evidence) */
  issuance: Sighting;
}

/** Remembers which family a bound access token belongs to, from the auth server's report of it. */
function learnFamily(k: KeyedState, e: DetectorEvent): void {
  if (e.access_jti === '' || e.family_id === '' || (e.bound_key_thumbprint ?? '') === '') return;
  const issued = ownState(k.subject, NAME, () => new Map<string, Issued>());
  issued.delete(e.access_jti);
  issued.set(e.access_jti, { family_id: e.family_id, issuance: sightingOf(e) });
  if (issued.size > TOKENS_KEPT) issued.delete(issued.keys().next().value as string);
}

/** Whether the event is a use of a bound token with a proof by another key (its signature verified). */
export function provedByAnotherKey(e: DetectorEvent): boolean {
  const bound = e.bound_key_thumbprint ?? '';
  const proof = e.proof_key_thumbprint ?? '';
  return e.type === 'verification' && claimsVerified(e) && bound !== '' && proof !== '' && bound !== proof;
}

export function detectKeyMismatch(
  k: KeyedState,
  e: DetectorEvent,
  cfg: { dedupWindowMs: number },
): Finding[] {
  if (e.type === 'issuance' || e.type === 'refresh') {
    learnFamily(k, e);
    return [];
  }
  if (!provedByAnotherKey(e)) return [];
  const issued =
    e.jti === '' ? undefined : ownState(k.subject, NAME, () => new Map<string, Issued>()).get(e.jti);
  const family = e.family_id !== '' ? e.family_id : (issued?.family_id ?? '');
  const here = sightingOf(e);
  const events = issued === undefined ? [here.evidence()] : [issued.issuance.evidence(), here.evidence()];
  const f = finding(NAME, {
    ...fromEvent(e),
    family_id: family,
    kind: 'bound token presented with another key',
    severity: 'critical',
    confidence: 0.99,
    target: family !== '' ? { kind: 'family', id: family } : { kind: 'jti', id: e.jti },
    action: family !== '' ? 'revoke_family' : 'revoke_jti',
    evidence: {
      events,
      bound_key_thumbprint: e.bound_key_thumbprint,
      proof_key_thumbprint: e.proof_key_thumbprint,
    },
    first_event_ms: events[0]!.time_ms,
  });
  return firstInWindow(k.subject, f, cfg.dedupWindowMs) ? [f] : [];
}

export const keyMismatch = defineDetector({
  name: NAME,
  finds:
    'a sender-constrained token (DPoP `cnf.jkt`, mTLS `cnf["x5t#S256"]`) presented with a proof by another key than the one it is bound to: a copied token',
  asks: 'revoke the family (the jti when its family is not known); critical',
  category: 'token_reuse',
  thresholds: {},
  policy: { target: 'auto', minSeverity: 'critical' },
  detect: detectKeyMismatch,
});
