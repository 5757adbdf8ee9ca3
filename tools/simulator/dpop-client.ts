/**
 * A simulated client's DPoP key (RFC 9449): an Ed25519 key pair made when the device first logs in,
 * its JWK thumbprint (what the auth server binds the tokens to, `cnf.jkt`) and proofs for each API
 * call (`htm`, `htu`, `iat` on the simulation's clock, a fresh `jti`, `ath` of the access token).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import { accessTokenHash } from '../../sdk/src/dpop.ts';

/** The URL simulated API calls name in their proofs (`htu`) and the verifiers check them against. */
export const SIM_API_URL = 'https://api.shop.example/v1/orders';
export const SIM_API_METHOD = 'GET';

export interface DpopKey {
  /** the public key's JWK SHA-256 thumbprint (RFC 7638) */
  jkt: string;
  /** a proof for one request with this access token at `nowMs` */
  proof(accessToken: string, nowMs: number): Promise<string>;
}

export async function createDpopKey(): Promise<DpopKey> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = await exportJWK(publicKey);
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    proof: (accessToken, nowMs) =>
      new SignJWT({
        htm: SIM_API_METHOD,
        htu: SIM_API_URL,
        jti: randomUUID(),
        ath: accessTokenHash(accessToken),
      })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'EdDSA', jwk })
        .setIssuedAt(Math.floor(nowMs / 1000))
        .sign(privateKey),
  };
}
