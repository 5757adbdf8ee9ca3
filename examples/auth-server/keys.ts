/**
 * Signing keys: the newest key signs; after a rotation the previous keys stay published (and
 * accepted) for an overlap window so tokens they signed still verify, then they are dropped.
 */
import { randomBytes } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningAlg } from './config.ts';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  /** when a newer key replaced it (epoch ms) */
  retiredAtMs?: number;
}

export class KeyRing {
  readonly alg: SigningAlg;
  private readonly overlapMs: number;
  /** oldest first; the last one signs */
  private keys: SigningKey[] = [];

  private constructor(alg: SigningAlg, overlapSeconds: number) {
    this.alg = alg;
    this.overlapMs = overlapSeconds * 1000;
  }

  static async create(alg: SigningAlg, overlapSeconds: number): Promise<KeyRing> {
    const ring = new KeyRing(alg, overlapSeconds);
    await ring.rotate();
    return ring;
  }

  /** The key new tokens are signed with. */
  get current(): SigningKey {
    const key = this.keys.at(-1);
    if (key === undefined) throw new Error('KeyRing has no key: create it with KeyRing.create()');
    return key;
  }

  /** Makes a new signing key; the previous one stays published for the overlap window. */
  async rotate(): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair(this.alg);
    const kid = `${this.alg.toLowerCase()}-${randomBytes(6).toString('base64url')}`;
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: this.alg, use: 'sig' };
    const now = Date.now();
    for (const key of this.keys) key.retiredAtMs ??= now;
    const key: SigningKey = { kid, alg: this.alg, privateKey, publicKey, publicJwk };
    this.keys.push(key);
    return key;
  }

  /** The keys still trusted: the current one and those retired less than the overlap window ago. */
  private live(): SigningKey[] {
    const cutoff = Date.now() - this.overlapMs;
    this.keys = this.keys.filter((key) => key.retiredAtMs === undefined || key.retiredAtMs > cutoff);
    return this.keys;
  }

  /** The public JWK Set (RFC 7517) of the trusted keys, newest first. */
  jwks(): { keys: JWK[] } {
    return {
      keys: this.live()
        .map((key) => key.publicJwk)
        .reverse(),
    };
  }

  /** The public key for a token header's `kid`; throws when no trusted key has that kid. */
  verificationKey(kid: string | undefined): CryptoKey {
    const key = this.live().find((k) => k.kid === kid);
    if (key === undefined) throw new Error(`no trusted signing key has kid ${JSON.stringify(kid)}`);
    return key.publicKey;
  }
}
