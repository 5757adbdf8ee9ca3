/** Shared fixtures for the SDK tests: real keys, a real JWKS server on 127.0.0.1, token minting, a collecting reporter. */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { expect } from 'vitest';
import { validateEventText } from '../../../ingest/pipeline/validate.ts';
import type { Reporter, ReporterStats, TokenEvent } from '../../../sdk/src/index.ts';

export const ISSUER = 'https://auth.example.test';
export const AUDIENCE = 'orders-api';

export interface SigningKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(
  alg: string,
  kid = `${alg}-${randomUUID().slice(0, 8)}`,
): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A signed access token; `claims` override the defaults (undefined removes one). */
export async function mint(
  key: SigningKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    jti: randomUUID(),
    sid: 'sess-1',
    client_id: 'web',
    scope: 'orders:read',
    iat: now,
    exp: now + 900,
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

/** A JWKS endpoint whose key set can be changed (rotation), counting fetches. */
export interface JwksServer {
  url: string;
  fetches: number;
  keys: JWK[];
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  const state = { fetches: 0, keys: keys.map((k) => k.publicJwk) };
  const server: Server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return state.fetches;
    },
    get keys() {
      return state.keys;
    },
    set keys(k: JWK[]) {
      state.keys = k;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A reporter that keeps what it is given (the SDK's own Reporter interface, in memory). */
export class CollectingReporter implements Reporter {
  readonly events: TokenEvent[] = [];
  report(event: TokenEvent): void {
    this.events.push(event);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  stats(): ReporterStats {
    return {
      reported: this.events.length,
      queued: 0,
      sent: this.events.length,
      dropped: { queue_full: 0, refused: 0, closed: 0 },
      sendFailures: 0,
    };
  }
  last(): TokenEvent {
    const e = this.events.at(-1);
    if (e === undefined) throw new Error('nothing was reported');
    return e;
  }
}

const CONTRACT = { eventBytes: 16_384, maxEventAgeSeconds: 3600, maxFutureSkewSeconds: 300 };

/** Fails unless tokenwatch's own ingest validation takes the event as the SDK serializes it. */
export function expectContractValid(event: TokenEvent): void {
  const result = validateEventText(JSON.stringify(event), CONTRACT, { nowMs: Date.now() });
  if (!result.ok)
    throw new Error(`tokenwatch refuses ${JSON.stringify(event)}: ${JSON.stringify(result.error)}`);
  expect(result.ok).toBe(true);
}

/** A small verification event `e-<i>` for the reporter tests; `fields` override. */
export const sdkEvent = (i: number, fields: Partial<TokenEvent> = {}): TokenEvent => ({
  event_id: `e-${i}`,
  type: 'verification',
  time: Date.now(),
  tenant: 'acme',
  subject: `u${i % 7}`,
  outcome: 'accepted',
  reason: 'ok',
  ...fields,
});
