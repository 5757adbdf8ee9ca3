/**
 * jose's errors → the event contract's rejection reasons. Keyed by jose's stable error codes
 * (never by message text, except to tell an unsupported `alg` from another unsupported feature).
 */
import type { VerificationReason } from './events.ts';

export type Classification =
  | { kind: 'rejected'; reason: Exclude<VerificationReason, 'ok'>; description: string }
  /** the keys could not be had: the verifier's problem, not the token's */
  | { kind: 'keys_unavailable'; description: string };

interface JoseLikeError {
  code?: unknown;
  claim?: unknown;
  reason?: unknown;
  message?: unknown;
}

const CLAIM_REASONS: Record<string, Exclude<VerificationReason, 'ok'>> = {
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
  nbf: 'not_yet_valid',
  // an `iat` in the future (beyond the clock tolerance): not valid yet either
  iat: 'not_yet_valid',
};

const rejected = (reason: Exclude<VerificationReason, 'ok'>, description: string): Classification => ({
  kind: 'rejected',
  reason,
  description,
});

export function classifyJoseError(err: unknown): Classification {
  const e = (typeof err === 'object' && err !== null ? err : {}) as JoseLikeError;
  const message = typeof e.message === 'string' ? e.message : String(err);
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return rejected('expired', 'the access token expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = typeof e.claim === 'string' ? e.claim : '';
      if (e.reason === 'missing') return rejected('missing_claim', `the "${claim}" claim is missing`);
      if (e.reason === 'invalid') return rejected('malformed', `the "${claim}" claim is not valid`);
      const reason = CLAIM_REASONS[claim];
      if (reason === 'not_yet_valid') return rejected(reason, 'the access token is not valid yet');
      if (reason !== undefined) return rejected(reason, `the "${claim}" claim is not the one expected`);
      if (claim === 'typ') return rejected('other', 'the token is not of the expected type (typ)');
      return rejected('other', `the "${claim}" claim is not the one expected`);
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return rejected('bad_signature', 'the signature does not verify');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return rejected('alg_not_allowed', 'the signing algorithm is not allowed');
    case 'ERR_JOSE_NOT_SUPPORTED':
      return /"alg"/.test(message)
        ? rejected('alg_not_allowed', 'the signing algorithm is not allowed')
        : rejected('malformed', 'the token uses an unsupported feature');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return rejected('unknown_kid', 'no verification key matches the token (kid)');
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return rejected('other', 'several verification keys match the token; it needs a kid');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return rejected('malformed', 'the token is not a well-formed signed JWT');
    case 'ERR_JWKS_TIMEOUT':
      return { kind: 'keys_unavailable', description: 'the verification keys (JWKS) timed out' };
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
    case 'ERR_JOSE_GENERIC':
      return { kind: 'keys_unavailable', description: `the verification keys are unusable: ${message}` };
    default:
      // fetch() failing to reach the JWKS endpoint throws a TypeError without a jose code
      if (err instanceof TypeError && /fetch/i.test(message))
        return {
          kind: 'keys_unavailable',
          description: `the verification keys (JWKS) are unreachable: ${message}`,
        };
      return rejected('other', message);
  }
}
