/**
 * createVerifier against real tokens (EdDSA, ES256, RS256, signed by jose) and a real JWKS server
 * on 127.0.0.1 that rotates its keys: every rejection reason produced for real and classified,
 * forgeries refused as alg_not_allowed, every call reported as a contract-valid event.
 */
import { CompactSign, generateSecret, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  createVerifier,
  Denylist,
  KeysUnavailableError,
  TokenRejectedError,
  type VerificationReason,
  type VerifierOptions,
} from '../../../sdk/src/index.ts';
import {
  AUDIENCE,
  CollectingReporter,
  expectContractValid,
  ISSUER,
  type JwksServer,
  mint,
  type SigningKey,
  signingKey,
  startJwksServer,
} from './support.ts';

const CALLER = { ip: '203.0.113.7', userAgent: 'curl/8', deviceId: 'dev-1' };
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

let ed: SigningKey;
let es: SigningKey;
let rs: SigningKey;
let jwks: JwksServer;

beforeAll(async () => {
  [ed, es, rs] = await Promise.all([signingKey('EdDSA'), signingKey('ES256'), signingKey('RS256')]);
  jwks = await startJwksServer([ed, es, rs]);
});
afterAll(() => jwks.close());

function verifierWith(o: Partial<VerifierOptions> = {}) {
  const reporter = new CollectingReporter();
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: jwks.url,
    algorithms: ['EdDSA', 'ES256', 'RS256'],
    reporter,
    tenant: 'acme',
    source: 'orders-api-1',
    ...o,
  });
  return { verifier, reporter };
}

/** Verifies, expecting a rejection with `reason`; returns the reported event. */
async function expectRejected(token: string, reason: VerificationReason, o: Partial<VerifierOptions> = {}) {
  const { verifier, reporter } = verifierWith(o);
  const err = await verifier.verify(token, CALLER).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRejectedError);
  expect((err as TokenRejectedError).reason).toBe(reason);
  expect((err as TokenRejectedError).code).toBe('ERR_TOKENWATCH_TOKEN_REJECTED');
  expect(reporter.events).toHaveLength(1);
  const event = reporter.last();
  expect(event).toMatchObject({ type: 'verification', outcome: 'rejected', reason, tenant: 'acme' });
  expectContractValid(event);
  if (token !== '') expect(JSON.stringify(event)).not.toContain(token);
  return event;
}

describe('createVerifier: accepted tokens', () => {
  it.each(['EdDSA', 'ES256', 'RS256'])(
    'verifies %s through the JWKS and reports the outcome with claims and caller',
    async (alg) => {
      const key = { EdDSA: ed, ES256: es, RS256: rs }[alg]!;
      const { verifier, reporter } = verifierWith();
      const token = await mint(key, { sub: `user-${alg}` });
      const claims = await verifier.verify(token, CALLER);
      expect(claims.sub).toBe(`user-${alg}`);
      const event = reporter.last();
      expect(event).toMatchObject({
        type: 'verification',
        outcome: 'accepted',
        reason: 'ok',
        tenant: 'acme',
        source: 'orders-api-1',
        subject: `user-${alg}`,
        jti: claims.jti,
        session_id: 'sess-1',
        client_id: 'web',
        iss: ISSUER,
        aud: AUDIENCE,
        alg,
        kid: key.kid,
        iat: claims.iat,
        exp: claims.exp,
        ip: '203.0.113.7',
        user_agent: 'curl/8',
        device_id: 'dev-1',
      });
      expectContractValid(event);
      expect(JSON.stringify(event)).not.toContain(token);
    },
  );

  it('takes the tenant from the claims when given a function, and the family from a configured claim', async () => {
    const { verifier, reporter } = verifierWith({ tenant: (c) => String(c['org']), familyClaim: 'fid' });
    await verifier.verify(await mint(ed, { org: 'globex', fid: 'fam-9' }), CALLER);
    expect(reporter.last()).toMatchObject({ tenant: 'globex', family_id: 'fam-9' });
  });

  it('verifies with a single key instead of a JWKS', async () => {
    const { verifier } = verifierWith({ jwksUrl: undefined, key: ed.publicJwk, algorithms: ['EdDSA'] });
    expect((await verifier.verify(await mint(ed), CALLER)).sub).toBe('alice');
  });
});

describe('createVerifier: the device id and its source', () => {
  const HEADER_CALLER = { ...CALLER, deviceIdSource: 'header' as const };

  it('without deviceIdClaim, reports the caller’s device id and source', async () => {
    const { verifier, reporter } = verifierWith();
    await verifier.verify(await mint(ed, { did: 'bound-1' }), HEADER_CALLER);
    expect(reporter.last()).toMatchObject({ device_id: 'dev-1', device_id_source: 'header' });
    await verifier.verify(await mint(ed), CALLER); // a caller that does not say where: unknown
    expect(reporter.last().device_id).toBe('dev-1');
    expect(reporter.last().device_id_source).toBeUndefined();
  });

  it('the claim wins over a header that differs: source claim', async () => {
    const { verifier, reporter } = verifierWith({ deviceIdClaim: 'did' });
    await verifier.verify(await mint(ed, { did: 'bound-1' }), HEADER_CALLER);
    expect(reporter.last()).toMatchObject({ device_id: 'bound-1', device_id_source: 'claim' });
    expectContractValid(reporter.last());
  });

  it('a token without the claim (or a non-string one) falls back to the header', async () => {
    const { verifier, reporter } = verifierWith({ deviceIdClaim: 'did' });
    await verifier.verify(await mint(ed), HEADER_CALLER);
    expect(reporter.last()).toMatchObject({ device_id: 'dev-1', device_id_source: 'header' });
    await verifier.verify(await mint(ed, { did: 42 }), HEADER_CALLER);
    expect(reporter.last()).toMatchObject({ device_id: 'dev-1', device_id_source: 'header' });
  });

  it('a signed rejection (expired) still takes the claim: the signature vouches for it', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const event = await expectRejected(
      await mint(ed, { iat: past - 900, exp: past, did: 'bound-1' }),
      'expired',
      { deviceIdClaim: 'did' },
    );
    expect(event).toMatchObject({ device_id: 'bound-1', device_id_source: 'claim' });
  });

  it('a forged token’s claim is never reported as the strong device id', async () => {
    const impostor = await signingKey('EdDSA', ed.kid);
    const { verifier, reporter } = verifierWith({ deviceIdClaim: 'did' });
    await expect(verifier.verify(await mint(impostor, { did: 'bound-1' }), HEADER_CALLER)).rejects.toThrow(
      TokenRejectedError,
    );
    expect(reporter.last()).toMatchObject({
      reason: 'bad_signature',
      device_id: 'dev-1',
      device_id_source: 'header',
    });
  });
});

describe('createVerifier: every rejection reason, produced for real', () => {
  it('expired', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await expectRejected(await mint(ed, { iat: past - 900, exp: past }), 'expired');
  });

  it('not_yet_valid (nbf ahead of the clock tolerance)', async () => {
    await expectRejected(await mint(es, { nbf: Math.floor(Date.now() / 1000) + 600 }), 'not_yet_valid');
  });

  it('bad_signature: a key of the same kid that is not the published one', async () => {
    const impostor = await signingKey('EdDSA', ed.kid);
    const event = await expectRejected(await mint(impostor, { sub: 'victim' }), 'bad_signature');
    // the claims of a rejected token are reported as presented (who was targeted)
    expect(event).toMatchObject({ subject: 'victim', kid: ed.kid, alg: 'EdDSA' });
  });

  it('bad_signature: a payload changed after signing', async () => {
    const [h, , s] = (await mint(rs)).split('.');
    const forged = `${h}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: 9999999999 })}.${s}`;
    await expectRejected(forged, 'bad_signature');
  });

  it.each([
    ['not a JWT', 'not-a-token'],
    ['three garbage segments', 'a.b.c'],
    ['a header that is not JSON', `${Buffer.from('{alg').toString('base64url')}.${b64({ sub: 'x' })}.c2ln`],
    ['an empty string', ''],
    ['an oversized token', `${'a'.repeat(20_000)}.b.c`],
  ])('malformed: %s', async (_what, token) => {
    await expectRejected(token, 'malformed');
  });

  it('malformed: a correctly signed JWS whose payload is not a claims set', async () => {
    const jws = await new CompactSign(new TextEncoder().encode('not json'))
      .setProtectedHeader({ alg: 'EdDSA', kid: ed.kid })
      .sign(ed.privateKey);
    await expectRejected(jws, 'malformed');
  });

  it('alg_not_allowed: alg "none" (unsigned) is refused before any key is looked up', async () => {
    const before = jwks.fetches;
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: 9999999999 })}.`;
    const event = await expectRejected(none, 'alg_not_allowed');
    expect(event).toMatchObject({ alg: 'none', subject: 'admin' });
    expect(jwks.fetches).toBe(before);
  });

  it('alg_not_allowed: HS256 signed with the public key (algorithm confusion)', async () => {
    for (const secret of [
      new TextEncoder().encode(JSON.stringify(rs.publicJwk)),
      Buffer.from(String(ed.publicJwk.x), 'base64url'),
    ]) {
      const forged = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: 9999999999 })
        .setProtectedHeader({ alg: 'HS256', kid: rs.kid })
        .sign(secret);
      const event = await expectRejected(forged, 'alg_not_allowed');
      expect(event.alg).toBe('HS256');
    }
  });

  it('alg_not_allowed: a real signature with an algorithm that is not pinned', async () => {
    await expectRejected(await mint(es), 'alg_not_allowed', { algorithms: ['EdDSA'] });
  });

  it('unknown_kid: a key the issuer never published', async () => {
    const stranger = await signingKey('ES256');
    const event = await expectRejected(await mint(stranger), 'unknown_kid');
    expect(event.kid).toBe(stranger.kid);
  });

  it('wrong_issuer', async () => {
    await expectRejected(await mint(ed, { iss: 'https://evil.example' }), 'wrong_issuer');
  });

  it('wrong_audience', async () => {
    await expectRejected(await mint(ed, { aud: 'billing-api' }), 'wrong_audience');
  });

  it.each(['sub', 'exp'])('missing_claim: no %s', async (claim) => {
    await expectRejected(await mint(ed, { [claim]: undefined }), 'missing_claim');
  });

  it('other: the wrong token type when a typ is required', async () => {
    await expectRejected(await mint(ed, {}, { typ: 'JWT' }), 'other', { typ: 'at+jwt' });
  });

  it('revoked: a valid token on the denylist (jti, session, subject before the revocation)', async () => {
    const denylist = new Denylist();
    const now = Date.now();
    const notice = (target: string, id: string) => ({
      version: 1,
      revocation_id: `rev-${id}`,
      tenant: 'acme',
      subject: 'alice',
      target,
      id,
      expires_at_ms: now + 60_000,
      revoked_at_ms: now,
    });
    const token = await mint(ed, { sid: 'sess-other' });
    const { verifier } = verifierWith({ denylist });
    await expect(verifier.verify(token)).resolves.toBeTruthy();

    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    expect(denylist.apply(notice('jti', jti))).toBe(true);
    const event = await expectRejected(token, 'revoked', { denylist });
    expect(event).toMatchObject({ jti, subject: 'alice' });

    denylist.apply(notice('session', 'sess-2'));
    await expectRejected(await mint(ed, { sid: 'sess-2' }), 'revoked', { denylist });

    denylist.apply(notice('subject', 'bob'));
    const issuedBefore = Math.floor(now / 1000) - 10;
    await expectRejected(await mint(ed, { sub: 'bob', iat: issuedBefore }), 'revoked', { denylist });
    // a token issued after a subject revocation is fine
    const { verifier: later } = verifierWith({ denylist });
    await expect(
      later.verify(await mint(ed, { sub: 'bob', iat: Math.floor(now / 1000) + 2 })),
    ).resolves.toBeTruthy();
    // another tenant's revocation does not apply
    const { verifier: other } = verifierWith({ denylist, tenant: 'globex' });
    await expect(other.verify(token)).resolves.toBeTruthy();
  });
});

describe('createVerifier: keys', () => {
  it('refetches the JWKS for an unknown kid after a rotation (at most once per cooldown)', async () => {
    const rotated = await signingKey('EdDSA');
    const server = await startJwksServer([ed]);
    try {
      const { verifier, reporter } = verifierWith({ jwksUrl: server.url, jwks: { cooldownMs: 200 } });
      await verifier.verify(await mint(ed), CALLER);
      expect(server.fetches).toBe(1);

      // The issuer rotates: new key published beside the old one (overlap), new tokens signed by it.
      server.keys = [rotated.publicJwk, ed.publicJwk];
      await new Promise((r) => setTimeout(r, 250));
      const claims = await verifier.verify(await mint(rotated), CALLER);
      expect(claims.sub).toBe('alice');
      expect(server.fetches).toBe(2);
      expect(reporter.last()).toMatchObject({ reason: 'ok', kid: rotated.kid });

      // Old tokens still verify during the overlap, without another fetch.
      await verifier.verify(await mint(ed), CALLER);
      expect(server.fetches).toBe(2);

      // The old key is withdrawn: once the cache is refreshed its tokens are unknown_kid.
      server.keys = [rotated.publicJwk];
      const spray = await signingKey('EdDSA');
      await new Promise((r) => setTimeout(r, 250));
      await expect(verifier.verify(await mint(spray))).rejects.toMatchObject({ reason: 'unknown_kid' });
      const fetchesAfterRefresh = server.fetches;
      expect(fetchesAfterRefresh).toBe(3);
      await expect(verifier.verify(await mint(ed))).rejects.toMatchObject({ reason: 'unknown_kid' });
      // A spray of unknown kids within the cooldown does not hammer the issuer.
      for (let i = 0; i < 20; i++)
        await expect(verifier.verify(await mint(spray))).rejects.toMatchObject({ reason: 'unknown_kid' });
      expect(server.fetches).toBeLessThanOrEqual(fetchesAfterRefresh + 1);
    } finally {
      await server.close();
    }
  });

  it('unreachable keys are the verifier’s problem: KeysUnavailableError (503), reported as other', async () => {
    const { verifier, reporter } = verifierWith({
      jwksUrl: 'http://127.0.0.1:9/jwks.json',
      jwks: { timeoutMs: 500 },
    });
    const err = await verifier.verify(await mint(ed), CALLER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeysUnavailableError);
    expect((err as KeysUnavailableError).code).toBe('ERR_TOKENWATCH_KEYS_UNAVAILABLE');
    expect(reporter.last()).toMatchObject({ outcome: 'rejected', reason: 'other' });
  });

  it('refuses settings that would open a hole, saying which and why', async () => {
    const base = {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: 'http://127.0.0.1/jwks',
      algorithms: ['EdDSA'],
    };
    const cases: [Partial<VerifierOptions>, RegExp][] = [
      [{ algorithms: [] }, /pin the algorithms/],
      [{ algorithms: ['EdDSA', 'none'] }, /must not contain "none"/],
      [{ algorithms: ['HS256'] }, /only asymmetric algorithms/],
      [{ issuer: '' }, /issuer is required/],
      [{ audience: [] }, /audience is required/],
      [{ key: await generateSecret('HS256') }, /exactly one of jwksUrl/],
      [{ tenant: 'no spaces please' }, /tenant must match/],
    ];
    for (const [override, message] of cases) {
      expect(() => createVerifier({ ...base, ...override } as VerifierOptions)).toThrow(ConfigurationError);
      expect(() => createVerifier({ ...base, ...override } as VerifierOptions)).toThrow(message);
    }
  });
});
