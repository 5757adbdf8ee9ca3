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

/**
 * Whether the event is a use of the token by someone who held it: its claims were verified, and it
 * is not a refresh presented with the wrong secret (`invalid_secret`: the sender knew the token's id,
 * not the token — an attack signal of its own, which refresh_replay reports as an alert).
 */
export const heldToken = (e: DetectorEvent): boolean =>
  claimsVerified(e) && !(e.type === 'refresh' && e.reason === 'invalid_secret');

/**
 * Rejection reasons given after the signature was verified: the token is real, but no longer (or
 * not here) valid. Such a presence proves where the token was, not that it was stolen now (an old
 * leaked token replayed): it may alert, and it never revokes more than its own jti (the response
 * stage's corroboration, response/decide/corroboration.ts).
 */
export const SIGNED_REJECTIONS: ReadonlySet<string> = new Set([
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'missing_claim',
  'revoked',
]);

/**
 * Device id sources the auth server vouches for: a claim it bound into the token, or its own
 * knowledge at issuance/refresh. A header or cookie (or an unknown source) is the client's word,
 * and a thief copies it along with the token.
 */
const STRONG_DEVICE_SOURCES: ReadonlySet<string> = new Set(['claim', 'auth_server']);

/** How far device evidence can be believed: `strong` only when every device id in it is vouched for. */
export type DeviceTrust = 'strong' | 'weak';

export const deviceTrust = (sources: readonly string[]): DeviceTrust =>
  sources.length > 0 && sources.every((s) => STRONG_DEVICE_SOURCES.has(s)) ? 'strong' : 'weak';
