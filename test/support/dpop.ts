/** DPoP proofs (RFC 9449) for tests: a client key pair, its JWK thumbprint, and proofs signed by it. */
import { randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { accessTokenHash } from '../../sdk/src/dpop.ts';

export interface DpopKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** the JWK SHA-256 thumbprint: what `cnf.jkt` carries */
  jkt: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** A proof for `htm htu` with the access token's `ath`; `claims` and `header` override (undefined removes). */
export async function dpopProof(
  key: DpopKey,
  o: { htm: string; htu: string; accessToken?: string; nowMs?: number },
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm: o.htm,
    htu: o.htu,
    iat: Math.floor((o.nowMs ?? Date.now()) / 1000),
    ...(o.accessToken === undefined ? {} : { ath: accessTokenHash(o.accessToken) }),
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...header })
    .sign(key.privateKey);
}
