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
  'dpop_proof_missing',
  'dpop_proof_invalid',
  'dpop_proof_replayed',
  'dpop_key_mismatch',
  'mtls_cert_missing',
  'mtls_key_mismatch',
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

/**
 * Where a device id came from: `claim` (the auth server bound it into the token) and `auth_server`
 * (the auth server's own knowledge at issuance/refresh) are strong; `header` and `cookie` (the client
 * sent it: a thief copies them with the token) are weak.
 */
export const DEVICE_ID_SOURCES = ['claim', 'header', 'cookie', 'auth_server'] as const;
export type DeviceIdSource = (typeof DEVICE_ID_SOURCES)[number];

/** `value` when it is a device id source the contract takes; otherwise undefined (unknown). */
export function deviceIdSource(value: unknown): DeviceIdSource | undefined {
  return DEVICE_ID_SOURCES.includes(value as DeviceIdSource) ? (value as DeviceIdSource) : undefined;
}

/** Who presented the token: the client's address, agent and device, as the service saw them. */
export interface CallerContext {
  ip?: string;
  userAgent?: string;
  deviceId?: string;
  /** where `deviceId` came from (the fastify plugin says `header` or `cookie`); unknown when absent */
  deviceIdSource?: DeviceIdSource;
  /** the request's DPoP proof (the `DPoP` header), method and URL: checked when the verifier has `dpop` */
  dpop?: { proof: string | undefined; method: string; url: string };
  /** the client certificate's SHA-256 thumbprint (base64url; the TLS peer's): compared when the verifier has `mtls` */
  certificateThumbprint?: string;
}

/** How a token is bound to a key: DPoP (`cnf.jkt`, RFC 9449) or mTLS (`cnf["x5t#S256"]`, RFC 8705). */
export type BoundKeyKind = 'dpop' | 'mtls';

/** The access token's claims and header fields an event may carry. */
export interface AccessTokenFields {
  jti?: string;
  iss?: string;
  aud?: string | string[];
  kid?: string;
  alg?: string;
  iat?: number;
  exp?: number;
  /** what the bound key's thumbprint is (the token's `cnf`) */
  bound_key_kind?: BoundKeyKind;
  /** the token's bound key: `cnf.jkt` or `cnf["x5t#S256"]` (base64url SHA-256, 43 characters) */
  bound_key_thumbprint?: string;
  /** the key that proved possession on this request: the DPoP proof's JWK thumbprint or the client certificate's */
  proof_key_thumbprint?: string;
}

/** A base64url SHA-256 thumbprint as the contract takes it (43 characters). */
export const THUMBPRINT_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** `value` when it is a thumbprint the contract takes; otherwise undefined. */
export const thumbprint = (value: unknown): string | undefined =>
  typeof value === 'string' && THUMBPRINT_PATTERN.test(value) ? value : undefined;

/**
 * The key a token's `cnf` claim binds it to (RFC 7800): DPoP's `jkt` first, else mTLS's
 * `x5t#S256`; undefined when the token is not bound. A bound token whose thumbprint is not a
 * base64url SHA-256 has `thumbprint` undefined: no key can prove possession of it.
 */
export function boundKeyOf(
  claims: Record<string, unknown>,
): { kind: BoundKeyKind; thumbprint: string | undefined } | undefined {
  const cnf = claims['cnf'];
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const c = cnf as Record<string, unknown>;
  if (c['jkt'] !== undefined) return { kind: 'dpop', thumbprint: thumbprint(c['jkt']) };
  if (c['x5t#S256'] !== undefined) return { kind: 'mtls', thumbprint: thumbprint(c['x5t#S256']) };
  return undefined;
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
  device_id_source?: DeviceIdSource;
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
  const device_id = text(caller.deviceId);
  return {
    ip: text(caller.ip, 64),
    user_agent: text(caller.userAgent, 1024),
    device_id,
    device_id_source: device_id === undefined ? undefined : deviceIdSource(caller.deviceIdSource),
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
    ...keyBindingFields(claims),
  };
}

/** The key binding of a token's claims (`cnf`), or of fields already in the contract's shape. */
function keyBindingFields(claims: Record<string, unknown>): AccessTokenFields {
  const bound = boundKeyOf(claims);
  const kind = claims['bound_key_kind'];
  return {
    bound_key_kind: bound?.kind ?? (kind === 'dpop' || kind === 'mtls' ? kind : undefined),
    bound_key_thumbprint: bound === undefined ? thumbprint(claims['bound_key_thumbprint']) : bound.thumbprint,
    proof_key_thumbprint: thumbprint(claims['proof_key_thumbprint']),
  };
}
