/**
 * The errors the SDK throws, in the manner of jose's: one class per kind, each with a stable
 * `code` to branch on. A rejected token carries the contract's `reason` and what to tell the
 * client (an RFC 6750 `error_description`); the cause (jose's error) is kept for logs.
 */
import type { VerificationReason } from './events.ts';

export class TokenwatchError extends Error {
  static readonly code: string = 'ERR_TOKENWATCH';
  readonly code: string = 'ERR_TOKENWATCH';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The token is not acceptable: expired, forged, revoked… (answer 401). */
export class TokenRejectedError extends TokenwatchError {
  static override readonly code = 'ERR_TOKENWATCH_TOKEN_REJECTED';
  override readonly code = 'ERR_TOKENWATCH_TOKEN_REJECTED';
  readonly reason: Exclude<VerificationReason, 'ok'>;
  /** the revoked target, for reason `revoked` */
  readonly revoked?: { target: string; id: string; revocation_id: string };

  constructor(
    reason: Exclude<VerificationReason, 'ok'>,
    message: string,
    options?: { cause?: unknown; revoked?: TokenRejectedError['revoked'] },
  ) {
    super(message, options);
    this.reason = reason;
    if (options?.revoked !== undefined) this.revoked = options.revoked;
  }
}

/** Why a sender-constrained token's key binding does not hold. */
export type KeyBindingReason = Extract<
  VerificationReason,
  | 'dpop_proof_missing'
  | 'dpop_proof_invalid'
  | 'dpop_proof_replayed'
  | 'dpop_key_mismatch'
  | 'mtls_cert_missing'
  | 'mtls_key_mismatch'
>;

/**
 * A DPoP proof or client certificate does not prove possession of the key the token is bound to
 * (RFC 9449, RFC 8705). The verifier throws it as the cause of a TokenRejectedError with the same
 * reason (answer 401); the DPoP checker returns it.
 */
export class KeyBindingError extends TokenwatchError {
  static override readonly code = 'ERR_TOKENWATCH_KEY_BINDING';
  override readonly code = 'ERR_TOKENWATCH_KEY_BINDING';
  readonly reason: KeyBindingReason;

  constructor(reason: KeyBindingReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * The verification keys could not be had (the JWKS endpoint is down, slow or answers garbage):
 * not the client's fault, so answer 503. Reported with reason `other`.
 */
export class KeysUnavailableError extends TokenwatchError {
  static override readonly code = 'ERR_TOKENWATCH_KEYS_UNAVAILABLE';
  override readonly code = 'ERR_TOKENWATCH_KEYS_UNAVAILABLE';
  readonly reason = 'other' as const;
}

/** An option given to the SDK is wrong; the message names it and says what is expected. */
export class ConfigurationError extends TokenwatchError {
  static override readonly code = 'ERR_TOKENWATCH_CONFIGURATION';
  override readonly code = 'ERR_TOKENWATCH_CONFIGURATION';
}
