/**
 * Events in the shape of tokenwatch's event contract v1 (the repository's
 * contract/event-v1.ts; JSON Schema in contract/schemas/event-v1.schema.json). The SDK trims every
 * string to the contract's limits and leaves out claims of the wrong type, so what it reports is
 * accepted as sent. Events carry ids and claims, never a raw token.
 */

export const VERIFICATION_REASONS = [
  'ok',
  'expired',
  'not_yet_valid',
  'bad_signature',
  'malformed',
  'alg_not_allowed',
  'unknown_kid',
  'wrong_issuer',
  'wrong_audience',
  'missing_claim',
  'revoked',
  'other',
] as const;
export type VerificationReason = (typeof VERIFICATION_REASONS)[number];

/**
 * Why a refresh was rejected. `invalid_secret`: the token id is known but the secret presented with
 * it is wrong — whoever sent it did not hold the token, so it is not a use of the token (an attack
 * signal of its own, never a replay); `invalid`: the token could not be read at all.
 */
export const REFRESH_REASONS = [
  'ok',
  'expired',
  'revoked',
  'reuse_detected',
  'invalid',
  'invalid_secret',
  'other',
] as const;
export type RefreshReason = (typeof REFRESH_REASONS)[number];

export type EventType = 'verification' | 'refresh' | 'issuance' | 'revocation';

/** Who presented the token: the client's address, agent and device, as the service saw them. */
export interface CallerContext {
  ip?: string;
  userAgent?: string;
  deviceId?: string;
}

/** The access token's claims and header fields an event may carry. */
export interface AccessTokenFields {
  jti?: string;
  iss?: string;
  aud?: string | string[];
  kid?: string;
  alg?: string;
  iat?: number;
  exp?: number;
}

export interface TokenEvent extends AccessTokenFields {
  event_id: string;
  type: EventType;
  /** epoch ms */
  time: number;
  tenant: string;
  source?: string;
  subject?: string;
  client_id?: string;
  session_id?: string;
  ip?: string;
  user_agent?: string;
  device_id?: string;
  outcome?: string;
  reason?: string;
  family_id?: string;
  token_id?: string;
  new_token_id?: string;
  access_jti?: string;
}

/** A tenant as the contract takes it. */
export const TENANT_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const MAX_EPOCH_S = 253402300799;

/**
 * `value` when it is a non-empty string, cut to `max` UTF-16 units (never between the two halves of
 * a surrogate pair) and well-formed (a lone surrogate, e.g. from a forged token's claims, becomes
 * U+FFFD); otherwise undefined.
 */
export function text(value: unknown, max = 256): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  let cut = value;
  if (value.length > max) {
    const last = value.charCodeAt(max - 1);
    cut = value.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
  }
  return cut.isWellFormed() ? cut : cut.toWellFormed();
}

/** An epoch-seconds claim when it is a whole number the contract takes; otherwise undefined. */
export function epochSeconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_EPOCH_S
    ? value
    : undefined;
}

/** `aud` as a string or up to 16 strings. */
export function audience(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return text(value, 512);
  if (!Array.isArray(value)) return undefined;
  const list = value
    .slice(0, 16)
    .map((a) => text(a, 512))
    .filter((a) => a !== undefined);
  return list.length > 0 ? list : undefined;
}

/** The caller's fields, trimmed to the contract. */
export function callerFields(caller: CallerContext | undefined): Partial<TokenEvent> {
  if (caller === undefined) return {};
  return {
    ip: text(caller.ip, 64),
    user_agent: text(caller.userAgent, 1024),
    device_id: text(caller.deviceId),
  };
}

/** The fields of an access token's claims and header, trimmed to the contract. */
export function accessTokenFields(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): AccessTokenFields {
  return {
    jti: text(claims['jti']),
    iss: text(claims['iss'], 512),
    aud: audience(claims['aud']),
    kid: text(header['kid']),
    alg: text(header['alg'], 32),
    iat: epochSeconds(claims['iat']),
    exp: epochSeconds(claims['exp']),
  };
}
