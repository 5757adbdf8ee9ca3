/**
 * DPoP proofs (RFC 9449 §4.3) and key binding in the verifier, on real keys signed by jose: each
 * check of a proof refused for real, hostile proofs never throwing (always a coded KeyBindingError),
 * and a bound token refused without its key's proof, with both thumbprints reported.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { generateSecret, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  createDpopChecker,
  createVerifier,
  KeyBindingError,
  TokenRejectedError,
} from '../../../sdk/src/index.ts';
import { type DpopKey, dpopKey, dpopProof } from '../../support/dpop.ts';
import {
  AUDIENCE,
  CollectingReporter,
  expectContractValid,
  ISSUER,
  mint,
  type SigningKey,
  signingKey,
} from './support.ts';

const HTU = 'https://api.example.test/orders';
const TOKEN = 'an-access-token';
const REQUEST = { method: 'GET', url: `${HTU}?page=2#top` };

let a: DpopKey;
let b: DpopKey;
let issuer: SigningKey;
beforeAll(async () => {
  [a, b, issuer] = await Promise.all([dpopKey('ES256'), dpopKey('EdDSA'), signingKey('EdDSA')]);
});

const proofBy = (key: DpopKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  dpopProof(key, { htm: 'GET', htu: HTU, accessToken: TOKEN }, claims, header);

async function refusal(proof: string | undefined, checker = createDpopChecker(), nowMs = Date.now()) {
  const result = await checker.check({ ...REQUEST, proof }, TOKEN, nowMs);
  expect(result).toBeInstanceOf(KeyBindingError);
  return result as KeyBindingError;
}

describe('DPoP proof checks', () => {
  it("a valid proof gives its key's JWK thumbprint (query and fragment of the URL ignored)", async () => {
    const checker = createDpopChecker();
    expect(await checker.check({ ...REQUEST, proof: await proofBy(a) }, TOKEN, Date.now())).toBe(a.jkt);
    expect(await checker.check({ ...REQUEST, proof: await proofBy(b) }, TOKEN, Date.now())).toBe(b.jkt);
  });

  it.each([
    ['another method', { htm: 'POST' }, {}, /method "POST"/],
    ['another URL', { htu: 'https://api.example.test/admin' }, {}, /admin/],
    ['another host', { htu: 'https://evil.example.test/orders' }, {}, /evil/],
    ['no htu', { htu: undefined }, {}, /not valid|htu/],
    ['an iat too old', { iat: Math.floor(Date.now() / 1000) - 120 }, {}, /more than 60 s/],
    ['an iat in the future', { iat: Math.floor(Date.now() / 1000) + 120 }, {}, /more than 60 s/],
    ["another token's ath", { ath: 'x'.repeat(43) }, {}, /ath/],
    ['no ath', { ath: undefined }, {}, /ath/],
    ['no jti', { jti: undefined }, {}, /jti/],
    ['typ JWT', {}, { typ: 'JWT' }, /typ/],
  ])('refuses a proof with %s', async (_name, claims, header, message) => {
    const error = await refusal(await proofBy(a, claims, header));
    expect(error.reason).toBe('dpop_proof_invalid');
    expect(error.code).toBe('ERR_TOKENWATCH_KEY_BINDING');
    expect(error.message).toMatch(message);
  });

  it('refuses a proof that embeds its private key, or signs with a secret', async () => {
    const withPrivate = await proofBy(a, {}, { jwk: { ...a.publicJwk, d: 'AAAA' } });
    expect((await refusal(withPrivate)).message).toMatch(/private|not valid/);
    const secret = await generateSecret('HS256', { extractable: true });
    const hs = await new SignJWT({ jti: 'j', htm: 'GET', htu: HTU, iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'AAAA' } as never })
      .sign(secret);
    expect((await refusal(hs)).reason).toBe('dpop_proof_invalid');
  });

  it('refuses an algorithm off the allow-list', async () => {
    const checker = createDpopChecker({ algorithms: ['EdDSA'] });
    expect((await refusal(await proofBy(a), checker)).message).toMatch(/alg/i);
  });

  it('refuses a proof presented twice (replay), but not a refused proof retried', async () => {
    const checker = createDpopChecker();
    const proof = await proofBy(a);
    expect(await checker.check({ ...REQUEST, proof }, TOKEN, Date.now())).toBe(a.jkt);
    const replay = await refusal(proof, checker);
    expect(replay.reason).toBe('dpop_proof_replayed');
    const early = await proofBy(a);
    expect((await refusal(early, checker, Date.now() + 120_000)).reason).toBe('dpop_proof_invalid');
    expect(await checker.check({ ...REQUEST, proof: early }, TOKEN, Date.now())).toBe(a.jkt);
  });

  it('the replay cache is bounded: the oldest jti is forgotten first', async () => {
    const checker = createDpopChecker({ replayCacheSize: 2 });
    const proofs = [await proofBy(a), await proofBy(a), await proofBy(a)];
    for (const proof of proofs)
      expect(await checker.check({ ...REQUEST, proof }, TOKEN, Date.now())).toBe(a.jkt);
    expect((await refusal(proofs[2], checker)).reason).toBe('dpop_proof_replayed');
    expect(await checker.check({ ...REQUEST, proof: proofs[0] }, TOKEN, Date.now())).toBe(a.jkt);
  });

  it('checks the nonce when told how', async () => {
    const checker = createDpopChecker({ nonce: (n) => n === 'n-1' });
    expect(
      await checker.check({ ...REQUEST, proof: await proofBy(a, { nonce: 'n-1' }) }, TOKEN, Date.now()),
    ).toBe(a.jkt);
    expect((await refusal(await proofBy(a, { nonce: 'n-0' }), checker)).message).toMatch(/use_dpop_nonce/);
    expect((await refusal(await proofBy(a), checker)).message).toMatch(/use_dpop_nonce/);
  });

  it('names a wrong option', () => {
    expect(() => createDpopChecker({ algorithms: ['HS256'] })).toThrow(ConfigurationError);
    expect(() => createDpopChecker({ iatWindowS: 0 })).toThrow(/iatWindowS/);
    expect(() => createDpopChecker({ replayCacheSize: -1 })).toThrow(/replayCacheSize/);
  });

  it('hostile proofs never throw: a thumbprint only for a valid proof, otherwise a coded KeyBindingError', async () => {
    const checker = createDpopChecker();
    const valid = await proofBy(a);
    const [h, p, s] = valid.split('.') as [string, string, string];
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const part = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(h, p, s, ''),
      fc.jsonValue().map(b64),
      fc
        .record({ alg: fc.constantFrom('ES256', 'none', 'HS256'), typ: fc.string(), jwk: fc.jsonValue() })
        .map(b64),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(part, part, part).map((t) => t.join('.')),
          fc.string({ maxLength: 200 }),
          fc.constant(undefined),
        ),
        async (proof) => {
          const result = await checker.check({ ...REQUEST, proof }, TOKEN, Date.now());
          if (typeof result === 'string') expect(result).toBe(a.jkt);
          else {
            expect(result).toBeInstanceOf(KeyBindingError);
            expect(['dpop_proof_invalid', 'dpop_proof_replayed']).toContain(result.reason);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('key binding in the verifier', () => {
  const bound = (cnf: Record<string, unknown>) => mint(issuer, { cnf });
  function verifierWith(o: { dpop?: object; mtls?: boolean } = {}) {
    const reporter = new CollectingReporter();
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      key: issuer.publicJwk,
      algorithms: ['EdDSA'],
      reporter,
      tenant: 'acme',
      ...o,
    });
    return { verifier, reporter };
  }
  const caller = (proof: string | undefined, extra = {}) => ({
    ip: '203.0.113.7',
    dpop: { proof, method: 'GET', url: HTU },
    ...extra,
  });
  async function rejected(p: Promise<unknown>, reason: string) {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenRejectedError);
    expect((err as TokenRejectedError).reason).toBe(reason);
    expect((err as TokenRejectedError).cause).toBeInstanceOf(KeyBindingError);
  }

  it("a DPoP-bound token with its key's proof is accepted; both thumbprints reported", async () => {
    const { verifier, reporter } = verifierWith({ dpop: {} });
    const token = await bound({ jkt: a.jkt });
    const proof = await dpopProof(a, { htm: 'GET', htu: HTU, accessToken: token });
    await verifier.verify(token, caller(proof));
    expect(reporter.last()).toMatchObject({
      reason: 'ok',
      bound_key_kind: 'dpop',
      bound_key_thumbprint: a.jkt,
      proof_key_thumbprint: a.jkt,
    });
    expectContractValid(reporter.last());
  });

  it('bound to key A, proved by key B: refused as dpop_key_mismatch, both thumbprints reported', async () => {
    const { verifier, reporter } = verifierWith({ dpop: {} });
    const token = await bound({ jkt: a.jkt });
    const proof = await dpopProof(b, { htm: 'GET', htu: HTU, accessToken: token });
    await rejected(verifier.verify(token, caller(proof)), 'dpop_key_mismatch');
    expect(reporter.last()).toMatchObject({
      outcome: 'rejected',
      reason: 'dpop_key_mismatch',
      bound_key_thumbprint: a.jkt,
      proof_key_thumbprint: b.jkt,
    });
    expectContractValid(reporter.last());
  });

  it('an expired bound token still reports the key that proved possession (its claims are signed); a forged one does not', async () => {
    const { verifier, reporter } = verifierWith({ dpop: {} });
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await mint(issuer, { cnf: { jkt: a.jkt }, iat: past, exp: past + 900 });
    const proof = await dpopProof(a, { htm: 'GET', htu: HTU, accessToken: expired });
    await expect(verifier.verify(expired, caller(proof))).rejects.toMatchObject({ reason: 'expired' });
    expect(reporter.last()).toMatchObject({
      reason: 'expired',
      bound_key_thumbprint: a.jkt,
      proof_key_thumbprint: a.jkt,
    });
    expectContractValid(reporter.last());
    // another key's proof of the expired token: reported as that key (key_mismatch reads it), still `expired`
    const theirs = await dpopProof(b, { htm: 'GET', htu: HTU, accessToken: expired });
    await expect(verifier.verify(expired, caller(theirs))).rejects.toMatchObject({ reason: 'expired' });
    expect(reporter.last()).toMatchObject({ reason: 'expired', proof_key_thumbprint: b.jkt });
    // a bad signature: the claims are anyone's, no binding is checked or reported
    const [h, p] = expired.split('.') as [string, string, string];
    const forged = `${h}.${p}.${'A'.repeat(86)}`;
    await expect(verifier.verify(forged, caller(proof))).rejects.toMatchObject({ reason: 'bad_signature' });
    expect(reporter.last()?.proof_key_thumbprint ?? '').toBe('');
  });

  it('bound, without a proof: dpop_proof_missing; with a bad proof: dpop_proof_invalid (no proof key reported)', async () => {
    const { verifier, reporter } = verifierWith({ dpop: {} });
    const token = await bound({ jkt: a.jkt });
    await rejected(verifier.verify(token, caller(undefined)), 'dpop_proof_missing');
    expect(reporter.last()).toMatchObject({ bound_key_thumbprint: a.jkt, proof_key_thumbprint: undefined });
    await rejected(verifier.verify(token, caller('not.a.proof')), 'dpop_proof_invalid');
    expect(reporter.last()).toMatchObject({ reason: 'dpop_proof_invalid', proof_key_thumbprint: undefined });
  });

  it('a cnf.jkt that is no thumbprint binds to no key at all', async () => {
    const { verifier } = verifierWith({ dpop: {} });
    const token = await bound({ jkt: 'short' });
    const proof = await dpopProof(a, { htm: 'GET', htu: HTU, accessToken: token });
    await rejected(verifier.verify(token, caller(proof)), 'dpop_key_mismatch');
  });

  it('an unbound token passes without a proof; with one, its key is reported', async () => {
    const { verifier, reporter } = verifierWith({ dpop: {} });
    const token = await mint(issuer);
    await verifier.verify(token, caller(undefined));
    expect(reporter.last()).toMatchObject({ reason: 'ok', bound_key_kind: undefined });
    await verifier.verify(token, caller(await dpopProof(a, { htm: 'GET', htu: HTU, accessToken: token })));
    expect(reporter.last()).toMatchObject({ reason: 'ok', proof_key_thumbprint: a.jkt });
  });

  it('without the dpop option a bound token is reported, not checked', async () => {
    const { verifier, reporter } = verifierWith();
    await verifier.verify(await bound({ jkt: a.jkt }), caller(undefined));
    expect(reporter.last()).toMatchObject({
      reason: 'ok',
      bound_key_kind: 'dpop',
      bound_key_thumbprint: a.jkt,
    });
  });

  it('mTLS: the client certificate must be the one the token is bound to', async () => {
    const cert = createHash('sha256').update('certificate A').digest('base64url');
    const other = createHash('sha256').update('certificate B').digest('base64url');
    const { verifier, reporter } = verifierWith({ mtls: true });
    const token = await bound({ 'x5t#S256': cert });
    await verifier.verify(token, caller(undefined, { certificateThumbprint: cert }));
    expect(reporter.last()).toMatchObject({
      reason: 'ok',
      bound_key_kind: 'mtls',
      bound_key_thumbprint: cert,
      proof_key_thumbprint: cert,
    });
    await rejected(
      verifier.verify(token, caller(undefined, { certificateThumbprint: other })),
      'mtls_key_mismatch',
    );
    expect(reporter.last()).toMatchObject({ bound_key_thumbprint: cert, proof_key_thumbprint: other });
    expectContractValid(reporter.last());
    await rejected(verifier.verify(token, caller(undefined)), 'mtls_cert_missing');
  });
});
