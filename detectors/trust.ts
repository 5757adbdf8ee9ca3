/**
 * Which events' claims can be believed. A verifier that rejects a token for its signature (or
 * never got that far) read the claims unverified: anyone could have written them, so they say
 * nothing about where the real token was used. Detectors that place or count a token's uses
 * (impossible_travel, device_reuse) skip such events, or a forger could pin a victim's jti, session
 * or family to the far side of the world and have tokenwatch revoke it (verification_anomaly
 * reports the forgeries themselves).
 */
import type { DetectorEvent } from './types.ts';

/** Rejection reasons given before the signature was verified, or instead of it. */
const UNVERIFIED_CLAIMS: ReadonlySet<string> = new Set([
  'bad_signature',
  'malformed',
  'alg_not_allowed',
  'unknown_kid',
  'other',
]);

/** Whether the event's claims were verified (refreshes and issuance come from the auth server itself). */
export const claimsVerified = (e: DetectorEvent): boolean =>
  e.type !== 'verification' || !UNVERIFIED_CLAIMS.has(e.reason);
