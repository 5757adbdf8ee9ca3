/**
 * What the executor talks to: the auth server (logins, refreshes, logouts) and the APIs (token
 * verification). The implementations here are the real ones: the reference auth server over HTTP,
 * SDK verifiers in process (as a gateway embeds them), or an SDK-built API over HTTP.
 */
import { createVerifier, type Denylist, type Reporter, TokenRejectedError } from '../../sdk/src/index.ts';
import type { Source } from './steps.ts';

/** Who makes a request: the address the server sees, the device id header, the user agent. */
export interface Caller {
  ip: string;
  /** '' sends none */
  deviceId: string;
  userAgent: string;
  /** the call's DPoP proof, method and URL (a DPoP-bound client's; checked by verifiers with `dpop`) */
  dpop?: { proof: string; method: string; url: string };
}

export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface AuthPort {
  /** `dpopJkt`: bind the session's tokens to this DPoP key (its JWK thumbprint) */
  login(subject: string, caller: Caller, dpopJkt?: string): Promise<TokenResponse>;
  refresh(refreshToken: string, caller: Caller): Promise<TokenResponse>;
  /** RFC 7009; the HTTP status */
  revoke(token: string, hint: 'access_token' | 'refresh_token', caller: Caller): Promise<number>;
}

export type CallResult = { ok: true } | { ok: false; reason: string };

export interface ApiPort {
  call(source: Source, token: string, caller: Caller): Promise<CallResult>;
  /** the platform's revocation feed: an access token revoked at the auth server (a logout) */
  revoked(jti: string, subject: string, expiresAtMs: number): void;
}

/**
 * The client the simulated apps log out with (RFC 7009 needs client authentication): the auth
 * server must list it in AUTH_CLIENTS (the demo and eval start it so; docker-compose.yml sets it).
 */
export const SIM_CLIENT = { id: 'shop-web', secret: 'shop-web-secret-0123456789' } as const;

const headers = (caller: Caller): Record<string, string> => ({
  'x-forwarded-for': caller.ip,
  'user-agent': caller.userAgent,
  ...(caller.deviceId === '' ? {} : { 'x-device-id': caller.deviceId }),
});

/** The reference auth server over HTTP (it trusts X-Forwarded-For: the simulator plays users anywhere). */
export function httpAuth(url: string, client: { id: string; secret: string }): AuthPort {
  const post = async (path: string, form: Record<string, string>, caller: Caller) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers(caller) },
      body: new URLSearchParams(form).toString(),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      body = { error: 'not_json', error_description: text.slice(0, 200) };
    }
    return { status: res.status, body };
  };
  return {
    login: (subject, caller, dpopJkt) =>
      post(
        '/oauth/token',
        {
          grant_type: 'password',
          username: subject,
          password: subject,
          ...(dpopJkt === undefined ? {} : { dpop_jkt: dpopJkt }),
        },
        caller,
      ),
    refresh: (refreshToken, caller) =>
      post('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, caller),
    revoke: async (token, hint, caller) =>
      (
        await post(
          '/oauth/revoke',
          { token, token_type_hint: hint, client_id: client.id, client_secret: client.secret },
          caller,
        )
      ).status,
  };
}

export interface SdkApisOptions {
  issuer: string;
  audience: string;
  jwksUrl: string;
  reporter: Reporter;
  denylist: Denylist;
  tenant: string;
  /** the clock the verifiers check exp against and stamp events with */
  now: () => number;
  /** check DPoP proofs (the hard cases' bound clients send them); off by default */
  dpop?: boolean;
}

/** One SDK verifier per source, in process, reporting every verification, checking the shared denylist. */
export function sdkApis(o: SdkApisOptions): ApiPort {
  const verifiers = new Map(
    (['api-gateway', 'mobile-bff', 'orders-api'] as const).map((source) => [
      source,
      createVerifier({
        issuer: o.issuer,
        audience: o.audience,
        jwksUrl: o.jwksUrl,
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
        reporter: o.reporter,
        denylist: o.denylist,
        tenant: o.tenant,
        source,
        now: o.now,
        ...(o.dpop === true ? { dpop: {} } : {}),
      }),
    ]),
  );
  return {
    async call(source, token, caller) {
      try {
        await verifiers.get(source)!.verify(token, caller);
        return { ok: true };
      } catch (err) {
        return { ok: false, reason: err instanceof TokenRejectedError ? err.reason : 'keys_unavailable' };
      }
    },
    revoked(jti, subject, expiresAtMs) {
      o.denylist.apply(
        {
          version: 1,
          revocation_id: `logout:${jti}`,
          tenant: o.tenant,
          target: 'jti',
          id: jti,
          subject,
          revoked_at_ms: o.now(),
          expires_at_ms: expiresAtMs,
        },
        o.now(),
      );
    },
  };
}
