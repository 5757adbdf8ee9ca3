/**
 * Access tokens: JWTs (RFC 9068 `at+jwt`) signed with the key ring's current key, and their
 * verification against the key ring with the algorithm, issuer and audience pinned.
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { KeyRing } from './keys.ts';

export interface AccessClaims {
  iss: string;
  aud: string;
  sub: string;
  jti: string;
  sid?: string;
  client_id?: string;
  scope: string;
  iat: number;
  exp: number;
  /** the key the token is bound to (DPoP, RFC 9449): only a proof by it makes the token usable */
  cnf?: { jkt: string };
}

export interface IssuedAccessToken {
  token: string;
  claims: AccessClaims;
  kid: string;
  alg: string;
}

export interface AccessTokenGrant {
  subject: string;
  scope: string;
  sessionId?: string;
  clientId?: string;
  /** bind the token to this DPoP key (JWK SHA-256 thumbprint) */
  dpopJkt?: string;
}

const TOKEN_TYPE = 'at+jwt';

export class AccessTokens {
  private readonly keys: KeyRing;
  private readonly issuer: () => string;
  readonly audience: string;
  readonly ttlSeconds: number;

  readonly clock: () => number;

  constructor(
    keys: KeyRing,
    issuer: () => string,
    audience: string,
    ttlSeconds: number,
    clock: () => number = Date.now,
  ) {
    this.clock = clock;
    this.keys = keys;
    this.issuer = issuer;
    this.audience = audience;
    this.ttlSeconds = ttlSeconds;
  }

  async issue(grant: AccessTokenGrant): Promise<IssuedAccessToken> {
    const key = this.keys.current;
    const iat = Math.floor(this.clock() / 1000);
    const claims: AccessClaims = {
      iss: this.issuer(),
      aud: this.audience,
      sub: grant.subject,
      jti: randomUUID(),
      ...(grant.sessionId === undefined ? {} : { sid: grant.sessionId }),
      ...(grant.clientId === undefined ? {} : { client_id: grant.clientId }),
      scope: grant.scope,
      iat,
      exp: iat + this.ttlSeconds,
      ...(grant.dpopJkt === undefined ? {} : { cnf: { jkt: grant.dpopJkt } }),
    };
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: TOKEN_TYPE })
      .sign(key.privateKey);
    return { token, claims, kid: key.kid, alg: key.alg };
  }

  /** The claims of a valid, unexpired token this server signed; throws a jose error otherwise. */
  async verify(token: string): Promise<AccessClaims> {
    const { payload } = await jwtVerify(token, (header) => this.keys.verificationKey(header.kid), {
      algorithms: [this.keys.alg],
      issuer: this.issuer(),
      audience: this.audience,
      typ: TOKEN_TYPE,
      requiredClaims: ['sub', 'jti', 'scope', 'iat', 'exp'],
      currentDate: new Date(this.clock()),
    });
    return payload as unknown as AccessClaims;
  }
}
