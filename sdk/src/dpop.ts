/**
 * DPoP proof checking (RFC 9449 §4.3) for resource servers: the proof is a JWT signed by the key in
 * its own `jwk` header (jose's EmbeddedJWK), of `typ: dpop+jwt` and an allowed asymmetric
 * algorithm, for this request's method (`htm`) and URL without query and fragment (`htu`), issued
 * within a window of now (`iat`), never seen before (`jti`, in a bounded replay cache), bound to the
 * access token presented with it (`ath`), and with the server's nonce when one is asked for. The
 * result is the proof key's JWK thumbprint (RFC 7638), which the verifier compares with the token's
 * `cnf.jkt`. Hostile input never throws: every refusal is a KeyBindingError with its reason.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import { ConfigurationError, KeyBindingError } from './errors.ts';

export interface DpopOptions {
  /** the proof signing algorithms accepted (default ES256, ES384, ES512, EdDSA, Ed25519, RS256, PS256) */
  algorithms?: string[];
  /** seconds a proof's `iat` may lie before or after now (default 60); replayed `jti`s are remembered twice as long */
  iatWindowS?: number;
  /** proof `jti`s remembered against replay, at most (default 100,000; the oldest are forgotten first) */
  replayCacheSize?: number;
  /**
   * whether the proof's `nonce` (undefined when it has none) is one this server issued and still
   * accepts (RFC 9449 §8); without it, nonces are not checked
   */
  nonce?: (nonce: string | undefined) => boolean;
}

/** What a request says about its DPoP proof: the `DPoP` header (undefined when absent), its method and URL. */
export interface DpopRequest {
  proof: string | undefined;
  method: string;
  url: string;
}

export interface DpopChecker {
  /** The proof key's JWK thumbprint, or the reason the proof proves nothing. Never throws. */
  check(request: DpopRequest, accessToken: string, nowMs: number): Promise<string | KeyBindingError>;
}

export const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'PS256'];
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$|^ES256K$/;
/** A proof is a small compact JWS: three base64url parts. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_PROOF_LENGTH = 8192;

/** base64url(SHA-256(access token)): the proof's `ath` (RFC 9449 §4.2). */
export const accessTokenHash = (token: string) =>
  createHash('sha256').update(token, 'ascii').digest('base64url');

/** The URL as `htu` compares it: scheme, host and path, no query or fragment; undefined when it is not a URL. */
export function normalizedHtu(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return undefined;
  }
}

/** `jti`s seen within their window: insertion order is expiry order (one TTL), so the oldest go first. */
class ReplayCache {
  private readonly seen = new Map<string, number>();
  private readonly max: number;
  private readonly ttlMs: number;

  constructor(max: number, ttlMs: number) {
    this.max = max;
    this.ttlMs = ttlMs;
  }

  /** Whether `jti` is new (then remembered). */
  add(jti: string, nowMs: number): boolean {
    for (const [k, until] of this.seen) {
      if (until > nowMs && this.seen.size < this.max) break;
      this.seen.delete(k);
    }
    const until = this.seen.get(jti);
    if (until !== undefined && until > nowMs) return false;
    this.seen.set(jti, nowMs + this.ttlMs);
    return true;
  }
}

function checkOptions(o: DpopOptions): void {
  const problem = (message: string) => new ConfigurationError(`createVerifier: dpop.${message}`);
  const algs = o.algorithms;
  if (
    algs !== undefined &&
    (!Array.isArray(algs) || algs.length === 0 || algs.some((a) => !ASYMMETRIC.test(a)))
  )
    throw problem(
      `algorithms must list asymmetric algorithms (e.g. ['ES256', 'EdDSA']); got ${JSON.stringify(algs)}`,
    );
  if (o.iatWindowS !== undefined && !(Number.isInteger(o.iatWindowS) && o.iatWindowS > 0))
    throw problem(
      `iatWindowS must be a whole number of seconds above 0; got ${JSON.stringify(o.iatWindowS)}`,
    );
  if (o.replayCacheSize !== undefined && !(Number.isInteger(o.replayCacheSize) && o.replayCacheSize > 0))
    throw problem(`replayCacheSize must be a whole number above 0; got ${JSON.stringify(o.replayCacheSize)}`);
  if (o.nonce !== undefined && typeof o.nonce !== 'function')
    throw problem('nonce must be a function (nonce) => boolean');
}

export function createDpopChecker(o: DpopOptions = {}): DpopChecker {
  checkOptions(o);
  const algorithms = o.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  const windowMs = (o.iatWindowS ?? 60) * 1000;
  const replays = new ReplayCache(o.replayCacheSize ?? 100_000, 2 * windowMs);
  const invalid = (description: string, cause?: unknown) =>
    new KeyBindingError('dpop_proof_invalid', `the DPoP proof ${description}`, { cause });

  return {
    async check(request, accessToken, nowMs) {
      const { proof } = request;
      if (typeof proof !== 'string' || proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof))
        return invalid('is not one compact JWS (send one DPoP header)');
      let header: Record<string, unknown>;
      let claims: Record<string, unknown>;
      try {
        const verified = await jwtVerify(proof, EmbeddedJWK, {
          typ: 'dpop+jwt',
          algorithms,
          requiredClaims: ['jti', 'htm', 'htu', 'iat'],
          currentDate: new Date(nowMs),
        });
        header = verified.protectedHeader as Record<string, unknown>;
        claims = verified.payload as Record<string, unknown>;
      } catch (err) {
        return invalid(`is not valid: ${(err as Error)?.message ?? 'unreadable'}`, err);
      }
      const jwk = header['jwk'] as JWK;
      if ('d' in jwk || jwk.kty === 'oct') return invalid('embeds a private or symmetric key');
      const { jti, htm, htu, iat, ath, nonce } = claims;
      if (typeof jti !== 'string' || jti === '' || jti.length > 256)
        return invalid('has no jti of 1 to 256 characters');
      if (htm !== request.method)
        return invalid(`is for method ${JSON.stringify(htm)}, not ${request.method}`);
      const want = normalizedHtu(request.url);
      if (typeof htu !== 'string' || want === undefined || normalizedHtu(htu) !== want)
        return invalid(`is for ${JSON.stringify(htu)}, not ${want ?? 'this URL'}`);
      if (typeof iat !== 'number' || Math.abs(iat * 1000 - nowMs) > windowMs)
        return invalid(`was issued at ${JSON.stringify(iat)}, more than ${windowMs / 1000} s from now`);
      if (ath !== accessTokenHash(accessToken)) return invalid('has no ath of the access token sent with it');
      if (
        o.nonce !== undefined &&
        !(typeof nonce === 'string' || nonce === undefined ? o.nonce(nonce) : false)
      )
        return invalid('lacks the nonce this server asks for (use_dpop_nonce)');
      let thumbprint: string;
      try {
        thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
      } catch (err) {
        return invalid('embeds a key without a thumbprint', err);
      }
      // Last: a proof refused for another reason must not use up its jti.
      if (!replays.add(`${thumbprint}|${jti}`, nowMs))
        return new KeyBindingError(
          'dpop_proof_replayed',
          `the DPoP proof's jti ${JSON.stringify(jti)} was used before`,
        );
      return thumbprint;
    },
  };
}
