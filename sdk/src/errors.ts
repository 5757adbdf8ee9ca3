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
