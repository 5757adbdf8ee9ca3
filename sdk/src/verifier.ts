/**
 * `createVerifier`: jose's `jwtVerify` with the settings pinned (issuer, audience, algorithms,
 * keys) and every call reported to tokenwatch as a verification event — accepted, or rejected
 * with a reason classified from jose's error codes — and checked against the local denylist.
 * The token's header (`alg`, `kid`) and, for a rejected token, its claims are read unverified for
 * the report only; they decide nothing. Reporting never waits and never throws (see reporter.ts).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type CryptoKey,
  createRemoteJWKSet,
  importJWK,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  type KeyInput,
} from 'jose';
import { classifyJoseError } from './classify.ts';
import type { Denylist, DenylistMatch } from './denylist.ts';
import { createDpopChecker, type DpopOptions } from './dpop.ts';
import { ConfigurationError, KeyBindingError, KeysUnavailableError, TokenRejectedError } from './errors.ts';
import {
  audience,
  type BoundKeyKind,
  boundKeyOf,
  type CallerContext,
  deviceIdSource,
  epochSeconds,
  TENANT_PATTERN,
  type TokenEvent,
  text,
  thumbprint,
  type VerificationReason,
} from './events.ts';
import type { Reporter } from './reporter.ts';
import { MAX_TOKEN_LENGTH, readUnverified } from './unverified.ts';

/** The claims of a verified access token. */
export interface AccessTokenClaims extends JWTPayload {
  sid?: string;
  client_id?: string;
  azp?: string;
  scope?: string;
}

export interface VerifierOptions {
  /** accepted issuer(s) (`iss`); required */
  issuer: string | string[];
  /** accepted audience(s) (`aud`); required */
  audience: string | string[];
  /** the issuer's JWKS URL (keys are fetched, cached and refetched on an unknown `kid`) … */
  jwksUrl?: string | URL;
  /** … or one key (a CryptoKey or KeyObject, a public JWK, or a secret for HS*) */
  key?: KeyInput;
  /** the signing algorithms accepted, e.g. ['EdDSA', 'ES256']; required, never `none` */
  algorithms: string[];
  /** seconds of clock skew allowed for exp/nbf/iat (default 5) */
  clockToleranceS?: number;
  /** the required `typ` header, e.g. `at+jwt` (RFC 9068); not checked by default */
  typ?: string;
  /** claims that must be present (default ['sub', 'exp']) */
  requiredClaims?: string[];
  /** remote JWKS: refetch at most this often on an unknown kid (default 30,000), cache age (600,000), timeout (5,000), ms */
  jwks?: { cooldownMs?: number; cacheMaxAgeMs?: number; timeoutMs?: number };
  /** where verification events go; nothing is reported without one */
  reporter?: Reporter;
  /** the tenant of the events and of the denylist entries: a name, or derived from the claims (default `default`) */
  tenant?: string | ((claims: Record<string, unknown>) => string);
  /** the reporting service/instance (default the host name) */
  source?: string;
  /** revoked tokens are refused with reason `revoked` */
  denylist?: Denylist;
  /** the claim that carries the refresh-token family id, where the issuer puts one (none by default) */
  familyClaim?: string;
  /**
   * the claim that carries the device id the auth server bound into the token (none by default;
   * Keycloak and oidc-provider can map one). When the verified token has it, it is the event's
   * `device_id` with source `claim` (strong), and a header/cookie id (`caller.deviceId`) is ignored,
   * even when it differs: the client can write the header, not the signed claim.
   */
  deviceIdClaim?: string;
  /** the clock (epoch ms) for exp/nbf, the denylist and event times (default Date.now; a simulation runs its own) */
  now?: () => number;
  /**
   * check DPoP proofs (RFC 9449): a token bound to a key (`cnf.jkt`) is refused without a valid
   * proof by that key (`caller.dpop`); off by default (bound tokens are then reported, not checked)
   */
  dpop?: DpopOptions;
  /**
   * check mTLS binding (RFC 8705): a token bound to a certificate (`cnf["x5t#S256"]`) is refused
   * unless `caller.certificateThumbprint` is that certificate's; off by default
   */
  mtls?: boolean;
}

/** What the report says of a token's key binding. */
interface Binding {
  kind?: BoundKeyKind;
  bound?: string;
  proof?: string;
}
const UNBOUND: Binding = Object.freeze({});
const NOT_BOUND = Object.freeze({ binding: UNBOUND });

/** Rejections given before the signature was verified (or instead of it): their claims are anyone's. */
const UNVERIFIED_CLAIMS: ReadonlySet<VerificationReason> = new Set([
  'malformed',
  'bad_signature',
  'alg_not_allowed',
  'unknown_kid',
  'other',
]);

export interface Verifier {
  /** The claims of a valid, non-revoked token; throws TokenRejectedError or KeysUnavailableError. Reports either way. */
  verify(token: string, caller?: CallerContext): Promise<AccessTokenClaims>;
}

const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$|^ES256K$/;

function checkOptions(o: VerifierOptions): void {
  const problem = (message: string) => new ConfigurationError(`createVerifier: ${message}`);
  const nonEmpty = (v: unknown) =>
    (typeof v === 'string' && v !== '') ||
    (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x !== ''));
  if (!nonEmpty(o.issuer)) throw problem('issuer is required (the `iss` your tokens carry)');
  if (!nonEmpty(o.audience)) throw problem('audience is required (the `aud` this service accepts)');
  if (!Array.isArray(o.algorithms) || o.algorithms.length === 0)
    throw problem("algorithms is required: pin the algorithms your issuer signs with, e.g. ['EdDSA']");
  if (o.algorithms.some((a) => a.toLowerCase() === 'none'))
    throw problem('algorithms must not contain "none": unsigned tokens are never accepted');
  if ((o.jwksUrl === undefined) === (o.key === undefined))
    throw problem('give exactly one of jwksUrl (the issuer JWKS) and key');
  if (o.jwksUrl !== undefined && o.algorithms.some((a) => !ASYMMETRIC.test(a)))
    throw problem(`with jwksUrl only asymmetric algorithms can verify; got ${o.algorithms.join(', ')}`);
  if (typeof o.tenant === 'string' && !TENANT_PATTERN.test(o.tenant))
    throw problem(`tenant must match ${TENANT_PATTERN}; got ${JSON.stringify(o.tenant)}`);
}

type KeyOrResolver = KeyInput | JWTVerifyGetKey;

function keyResolver(o: VerifierOptions): KeyOrResolver {
  if (o.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(o.jwksUrl);
    } catch {
      throw new ConfigurationError(
        `createVerifier: jwksUrl is not a URL: ${JSON.stringify(String(o.jwksUrl))}`,
      );
    }
    return createRemoteJWKSet(url, {
      cooldownDuration: o.jwks?.cooldownMs ?? 30_000,
      cacheMaxAge: o.jwks?.cacheMaxAgeMs ?? 600_000,
      timeoutDuration: o.jwks?.timeoutMs ?? 5_000,
    });
  }
  const key = o.key as KeyInput;
  if (key instanceof Uint8Array || !('kty' in key)) return key;
  // A JWK is imported once, on first use.
  const jwk = key as JWK;
  let imported: Promise<CryptoKey | Uint8Array> | undefined;
  return () => {
    imported ??= importJWK(jwk, jwk.alg ?? o.algorithms[0]);
    return imported;
  };
}

export function createVerifier(options: VerifierOptions): Verifier {
  checkOptions(options);
  const key = keyResolver(options);
  const verifyOptions: JWTVerifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: options.algorithms,
    clockTolerance: options.clockToleranceS ?? 5,
    requiredClaims: options.requiredClaims ?? ['sub', 'exp'],
    ...(options.typ !== undefined ? { typ: options.typ } : {}),
  };
  const { reporter, denylist, familyClaim } = options;
  const deviceClaim = options.deviceIdClaim;
  const now = options.now ?? Date.now;
  // A clock of its own means a currentDate per call; the default keeps one options object (hot path).
  const optionsNow =
    options.now === undefined
      ? () => verifyOptions
      : () => ({ ...verifyOptions, currentDate: new Date(now()) });
  const source = text(options.source ?? hostname(), 128);
  const tenantOption = options.tenant ?? 'default';
  const tenantOf =
    typeof tenantOption === 'string'
      ? () => tenantOption
      : (claims: Record<string, unknown>) => {
          try {
            const t = tenantOption(claims);
            return typeof t === 'string' && TENANT_PATTERN.test(t) ? t : 'default';
          } catch {
            return 'default';
          }
        };

  const report = (
    tenant: string,
    reason: VerificationReason,
    claims: Record<string, unknown>,
    header: Record<string, unknown>,
    caller: CallerContext | undefined,
    binding: Binding = UNBOUND,
  ): void => {
    if (reporter === undefined) return;
    // a device claim counts only once the signature made the claims believable
    const claimed =
      deviceClaim === undefined || UNVERIFIED_CLAIMS.has(reason) ? undefined : text(claims[deviceClaim]);
    const callerDevice = claimed === undefined ? text(caller?.deviceId) : undefined;
    // One object literal of a fixed shape, callerFields and accessTokenFields (events.ts) inlined:
    // this runs on every request, and spreading their objects costs an allocation each (bench:sdk).
    const event: TokenEvent = {
      event_id: randomUUID(),
      type: 'verification',
      time: now(),
      tenant,
      source,
      subject: text(claims['sub']),
      client_id: text(claims['client_id'] ?? claims['azp']),
      session_id: text(claims['sid']),
      ip: text(caller?.ip, 64),
      user_agent: text(caller?.userAgent, 1024),
      device_id: claimed ?? callerDevice,
      device_id_source:
        claimed !== undefined
          ? 'claim'
          : callerDevice === undefined
            ? undefined
            : deviceIdSource(caller?.deviceIdSource),
      outcome: reason === 'ok' ? 'accepted' : 'rejected',
      reason,
      jti: text(claims['jti']),
      iss: text(claims['iss'], 512),
      aud: audience(claims['aud']),
      kid: text(header['kid']),
      alg: text(header['alg'], 32),
      iat: epochSeconds(claims['iat']),
      exp: epochSeconds(claims['exp']),
      family_id: familyClaim === undefined ? undefined : text(claims[familyClaim]),
      bound_key_kind: binding.kind,
      bound_key_thumbprint: binding.bound,
      proof_key_thumbprint: binding.proof,
    };
    reporter.report(event);
  };

  const denied = (tenant: string, claims: AccessTokenClaims): DenylistMatch | undefined =>
    denylist?.match(
      {
        tenant,
        subject: claims.sub,
        jti: claims.jti,
        sessionId: typeof claims.sid === 'string' ? claims.sid : undefined,
        familyId: familyClaim === undefined ? undefined : text(claims[familyClaim]),
        iat: claims.iat,
      },
      now(),
    );

  const dpop = options.dpop === undefined ? undefined : createDpopChecker(options.dpop);
  const mtls = options.mtls === true;

  /** The token's binding as checked on this request: what to report, and why it fails if it does. */
  const bindingOf = async (
    token: string,
    claims: AccessTokenClaims,
    caller: CallerContext | undefined,
  ): Promise<{ binding: Binding; refused?: KeyBindingError }> => {
    const bound = boundKeyOf(claims);
    // The common case (an unbound token, no checks configured) allocates nothing: verify is the hot path.
    if (bound === undefined && dpop === undefined && !mtls) return NOT_BOUND;
    const kind = bound?.kind;
    if (kind === 'mtls' || (kind === undefined && mtls && caller?.certificateThumbprint !== undefined)) {
      const cert = thumbprint(caller?.certificateThumbprint);
      const binding = { kind, bound: bound?.thumbprint, proof: cert };
      if (!mtls || kind === undefined) return { binding };
      if (cert === undefined)
        return {
          binding,
          refused: new KeyBindingError(
            'mtls_cert_missing',
            'the access token is bound to a client certificate (cnf x5t#S256): connect with it over mutual TLS',
          ),
        };
      if (cert !== bound?.thumbprint)
        return {
          binding,
          refused: new KeyBindingError(
            'mtls_key_mismatch',
            'the client certificate is not the one the access token is bound to (cnf x5t#S256)',
          ),
        };
      return { binding };
    }
    const binding: Binding = { kind, bound: bound?.thumbprint };
    if (dpop === undefined) return { binding };
    const proof = caller?.dpop?.proof;
    if (proof === undefined) {
      if (kind !== 'dpop') return { binding };
      return {
        binding,
        refused: new KeyBindingError(
          'dpop_proof_missing',
          'the access token is bound to a key (cnf.jkt): send a DPoP proof by that key in the DPoP header',
        ),
      };
    }
    const checked = await dpop.check(caller!.dpop!, token, now());
    if (checked instanceof KeyBindingError) return { binding, refused: checked };
    binding.proof = checked;
    if (kind === 'dpop' && checked !== bound?.thumbprint)
      return {
        binding,
        refused: new KeyBindingError(
          'dpop_key_mismatch',
          'the DPoP proof is signed by another key than the one the access token is bound to (cnf.jkt)',
        ),
      };
    return { binding };
  };

  return {
    async verify(token, caller) {
      if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) {
        const description =
          typeof token === 'string' && token.length > MAX_TOKEN_LENGTH
            ? `the token is longer than ${MAX_TOKEN_LENGTH} characters`
            : 'the token is empty';
        report(tenantOf({}), 'malformed', {}, {}, caller);
        throw new TokenRejectedError('malformed', description);
      }
      let claims: AccessTokenClaims;
      let header: Record<string, unknown>;
      try {
        const verified = await jwtVerify<AccessTokenClaims>(token, key as JWTVerifyGetKey, optionsNow());
        claims = verified.payload;
        header = verified.protectedHeader as Record<string, unknown>;
      } catch (err) {
        const unverified = readUnverified(token);
        const tenant = tenantOf(unverified.claims);
        const c = classifyJoseError(err);
        const reason = c.kind === 'rejected' ? c.reason : 'other';
        // Refused after its signature was verified (expired, wrong audience…): the claims are the
        // token's, so its binding is checked and reported too — where the key proved possession
        // tells the detectors one client moved (or another key tried) as for an accepted token.
        const binding = UNVERIFIED_CLAIMS.has(reason)
          ? UNBOUND
          : await bindingOf(token, unverified.claims, caller).then(
              (b) => b.binding,
              () => UNBOUND,
            );
        report(tenant, reason, unverified.claims, unverified.header, caller, binding);
        if (c.kind === 'keys_unavailable') throw new KeysUnavailableError(c.description, { cause: err });
        throw new TokenRejectedError(c.reason, c.description, { cause: err });
      }
      const tenant = tenantOf(claims);
      const { binding, refused } = await bindingOf(token, claims, caller);
      if (refused !== undefined) {
        report(tenant, refused.reason, claims, header, caller, binding);
        throw new TokenRejectedError(refused.reason, refused.message, { cause: refused });
      }
      const revoked = denied(tenant, claims);
      report(tenant, revoked === undefined ? 'ok' : 'revoked', claims, header, caller, binding);
      if (revoked !== undefined)
        throw new TokenRejectedError('revoked', `the access token was revoked (${revoked.target})`, {
          revoked,
        });
      return claims;
    },
  };
}
