/**
 * The fastify plugin (import `@tokenwatch/sdk/fastify`): every route in the context where it is
 * registered needs a valid bearer token, checked (and reported) by the verifier before the body is
 * read. The claims land on `request.tokenClaims`. Failures answer 401 with an RFC 6750
 * `WWW-Authenticate` challenge (no token: no error code; a bad one: `invalid_token`), missing
 * scopes 403 `insufficient_scope`, unreachable keys 503. The client address is `request.ip` (so
 * fastify's `trustProxy` rules decide it); the device id comes from a header or a cookie (reported
 * with that source: weak, the client sent it).
 * A route opts out with `config: { tokenwatch: false }`, or takes anonymous calls with
 * `config: { tokenwatch: { optional: true } }`, and requires scopes with `{ scopes: [...] }`.
 * Sender-constrained tokens: the token may come as `Authorization: DPoP <token>` too; the `DPoP`
 * header, the method and the URL go to the verifier (which checks them when it has `dpop`), and with
 * `mtls` the client certificate's SHA-256 thumbprint is read from the TLS socket.
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { KeysUnavailableError, TokenRejectedError } from './errors.ts';
import type { CallerContext } from './events.ts';
import type { AccessTokenClaims, Verifier } from './verifier.ts';

export interface RouteAuth {
  /** a request without a token passes (with `tokenClaims` null); a bad token is still refused */
  optional?: boolean;
  /** scopes the token must carry (`scope` claim, space-separated, or `scp` array) */
  scopes?: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the verified claims of the bearer token; null when the route let a request without one pass */
    tokenClaims: AccessTokenClaims | null;
  }
  interface FastifyContextConfig {
    tokenwatch?: false | RouteAuth;
  }
}

export interface TokenwatchPluginOptions {
  verifier: Verifier;
  /** the `realm` of the challenge (default `api`) */
  realm?: string;
  /** where the device id is read: a header (default `x-device-id`) and/or a cookie (the header wins) */
  deviceId?: { header?: string; cookie?: string };
  /** seconds in `Retry-After` when the keys are unavailable (default 5) */
  retryAfterS?: number;
  /**
   * the request's URL as its clients address it, the DPoP proof's `htu` (default
   * `request.protocol://request.host` + `request.url`, so fastify's `trustProxy` decides it)
   */
  publicUrl?: (request: FastifyRequest) => string;
  /** read the client certificate's SHA-256 thumbprint from the TLS socket, for mTLS-bound tokens (default false) */
  mtls?: boolean;
}

/** RFC 6750 §3: quoted-string values without `"` or `\`. */
const quoted = (value: string) => `"${value.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?')}"`;

function challenge(realm: string, params: Record<string, string> = {}): string {
  const parts = [`realm=${quoted(realm)}`, ...Object.entries(params).map(([k, v]) => `${k}=${quoted(v)}`)];
  return `Bearer ${parts.join(', ')}`;
}

/** The token of `Authorization: Bearer <token>` or `DPoP <token>`; undefined when there is none. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^(?:Bearer|DPoP)[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** The client certificate's SHA-256 thumbprint (base64url, as `cnf["x5t#S256"]`), when the TLS peer sent one. */
export function certificateThumbprint(request: FastifyRequest): string | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate()?.raw;
  return raw instanceof Buffer && raw.length > 0
    ? createHash('sha256').update(raw).digest('base64url')
    : undefined;
}

/** The `DPoP` header: one proof, or '' when several were sent (never valid). */
function dpopProof(request: FastifyRequest): string | undefined {
  const header = request.headers.dpop;
  if (header === undefined) return undefined;
  return typeof header === 'string' ? header : '';
}

const KEY_PROOF_REASONS: ReadonlySet<string> = new Set(['dpop_proof_invalid', 'dpop_proof_replayed']);

function cookie(request: FastifyRequest, name: string): string | undefined {
  const parsed = (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies;
  if (parsed !== undefined) return parsed[name];
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(pair.slice(eq + 1).trim());
      } catch {
        return pair.slice(eq + 1).trim();
      }
    }
  }
  return undefined;
}

function scopesOf(claims: AccessTokenClaims): Set<string> {
  const scp = (claims as { scp?: unknown }).scp;
  if (Array.isArray(scp)) return new Set(scp.filter((s): s is string => typeof s === 'string'));
  return new Set(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []);
}

const tokenwatchPlugin: FastifyPluginAsync<TokenwatchPluginOptions> = async (app, options) => {
  const { verifier } = options;
  if (typeof verifier?.verify !== 'function')
    throw new TypeError('@tokenwatch/sdk/fastify: the `verifier` option is required (createVerifier(...))');
  const realm = options.realm ?? 'api';
  const deviceHeader = (options.deviceId?.header ?? 'x-device-id').toLowerCase();
  const deviceCookie = options.deviceId?.cookie;
  const retryAfter = String(options.retryAfterS ?? 5);
  const publicUrl = options.publicUrl ?? ((r: FastifyRequest) => `${r.protocol}://${r.host}${r.url}`);
  const mtls = options.mtls === true;

  /** The device id the client sent, and where: the header wins over the cookie (both weak). */
  const deviceOf = (request: FastifyRequest): Pick<CallerContext, 'deviceId' | 'deviceIdSource'> => {
    const header = request.headers[deviceHeader];
    if (typeof header === 'string' && header !== '') return { deviceId: header, deviceIdSource: 'header' };
    const fromCookie = deviceCookie === undefined ? undefined : cookie(request, deviceCookie);
    return fromCookie === undefined || fromCookie === ''
      ? {}
      : { deviceId: fromCookie, deviceIdSource: 'cookie' };
  };

  const refuse = (reply: FastifyReply, status: number, error: string, description: string, extra = {}) =>
    reply
      .code(status)
      .header('www-authenticate', challenge(realm, { error, error_description: description, ...extra }))
      .header('cache-control', 'no-store')
      .send({ error, error_description: description });

  app.decorateRequest('tokenClaims', null);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config.tokenwatch;
    if (config === false) return;
    const token = bearerToken(request);
    if (token === undefined) {
      if (config?.optional) return;
      return reply
        .code(401)
        .header('www-authenticate', challenge(realm))
        .header('cache-control', 'no-store')
        .send({ error: 'unauthorized', error_description: 'send Authorization: Bearer <access token>' });
    }
    let claims: AccessTokenClaims;
    try {
      claims = await verifier.verify(token, {
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        ...deviceOf(request),
        dpop: { proof: dpopProof(request), method: request.method, url: publicUrl(request) },
        certificateThumbprint: mtls ? certificateThumbprint(request) : undefined,
      });
    } catch (err) {
      if (err instanceof TokenRejectedError)
        // RFC 9449 §7.1: a bad proof is `invalid_dpop_proof`; a token without its key's proof is an `invalid_token`.
        return refuse(
          reply,
          401,
          KEY_PROOF_REASONS.has(err.reason) ? 'invalid_dpop_proof' : 'invalid_token',
          err.message,
        );
      if (err instanceof KeysUnavailableError) {
        request.log.error({ err: err.message }, 'token verification keys unavailable');
        return reply.code(503).header('retry-after', retryAfter).send({
          error: 'temporarily_unavailable',
          error_description: 'the token cannot be checked now; retry',
        });
      }
      throw err;
    }
    const needed = config?.scopes ?? [];
    if (needed.length > 0) {
      const held = scopesOf(claims);
      const missing = needed.filter((s) => !held.has(s));
      if (missing.length > 0)
        return refuse(reply, 403, 'insufficient_scope', `the token lacks the scope ${missing.join(' ')}`, {
          scope: needed.join(' '),
        });
    }
    request.tokenClaims = claims;
  });
};

// Not encapsulated (what fastify-plugin does): the hook and the decorator apply to the context
// that registers the plugin, so `app.register(tokenwatch, …)` protects that context's routes.
Object.assign(tokenwatchPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@tokenwatch/sdk',
});

export default tokenwatchPlugin;
export { tokenwatchPlugin };
