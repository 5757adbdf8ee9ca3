/** The auth-server emitters: each report is one contract-valid event with the grant's ids and claims. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createAuthEvents, type RefreshReason } from '../../../sdk/src/index.ts';
import { CollectingReporter, expectContractValid } from './support.ts';

const now = Math.floor(Date.now() / 1000);
const access = {
  jti: 'at-2',
  iss: 'https://auth',
  aud: 'api',
  kid: 'k1',
  alg: 'EdDSA',
  iat: now,
  exp: now + 900,
};
const grant = {
  subject: 'alice',
  clientId: 'web',
  sessionId: 'sess-1',
  familyId: 'fam-1',
  ip: '198.51.100.4',
  userAgent: 'Firefox',
  deviceId: 'laptop-1',
};

describe('createAuthEvents', () => {
  it('reports a device id with the source the auth server gives, none without a device id', () => {
    const reporter = new CollectingReporter();
    const auth = createAuthEvents({ reporter, tenant: 'acme' });
    auth.reportIssuance({ ...grant, deviceIdSource: 'cookie', tokenId: 'rt-1' });
    auth.reportIssuance({ ...grant, deviceId: undefined, tokenId: 'rt-2' });
    // a JavaScript caller's unknown source is left out (unknown), never sent for ingest to refuse
    auth.reportIssuance({ ...grant, deviceIdSource: 'bluetooth' as 'cookie', tokenId: 'rt-3' });
    const [cookie, none, unknown] = reporter.events;
    expect(cookie).toMatchObject({ device_id: 'laptop-1', device_id_source: 'cookie' });
    expect(none?.device_id).toBeUndefined();
    expect(none?.device_id_source).toBeUndefined();
    expect(unknown).toMatchObject({ device_id: 'laptop-1' });
    expect(unknown?.device_id_source).toBeUndefined();
    for (const e of reporter.events) expectContractValid(e);
  });

  it('reportIssuance, reportRefresh and reportRevocation carry the contract fields', () => {
    const reporter = new CollectingReporter();
    const auth = createAuthEvents({ reporter, tenant: 'acme', source: 'auth-1' });
    auth.reportIssuance({ ...grant, tokenId: 'rt-1', accessToken: access, grant: 'password' });
    auth.reportRefresh({
      ...grant,
      tokenId: 'rt-1',
      newTokenId: 'rt-2',
      outcome: 'rotated',
      reason: 'ok',
      accessToken: access,
    });
    auth.reportRefresh({ ...grant, tokenId: 'rt-1', outcome: 'rejected', reason: 'reuse_detected' });
    auth.reportRevocation({ ...grant, reason: 'user_logout' });
    const [issuance, rotated, reused, revocation] = reporter.events;
    const common = {
      tenant: 'acme',
      source: 'auth-1',
      subject: 'alice',
      client_id: 'web',
      session_id: 'sess-1',
      family_id: 'fam-1',
      ip: '198.51.100.4',
      user_agent: 'Firefox',
      device_id: 'laptop-1',
      // the auth server's own knowledge of the device: strong
      device_id_source: 'auth_server',
    };
    expect(issuance).toMatchObject({
      ...common,
      type: 'issuance',
      token_id: 'rt-1',
      access_jti: 'at-2',
      jti: 'at-2',
      kid: 'k1',
      alg: 'EdDSA',
      exp: now + 900,
      reason: 'password',
    });
    expect(rotated).toMatchObject({
      ...common,
      type: 'refresh',
      outcome: 'rotated',
      reason: 'ok',
      token_id: 'rt-1',
      new_token_id: 'rt-2',
      access_jti: 'at-2',
    });
    expect(reused).toMatchObject({
      ...common,
      type: 'refresh',
      outcome: 'rejected',
      reason: 'reuse_detected',
    });
    expect(revocation).toMatchObject({ ...common, type: 'revocation', reason: 'user_logout' });
    for (const e of reporter.events) expectContractValid(e);
    expect(new Set(reporter.events.map((e) => e.event_id)).size).toBe(4);
  });

  it('keeps events valid whatever it is given: an unknown reason becomes other, long strings are cut, a bad tenant override is ignored', () => {
    const reporter = new CollectingReporter();
    const auth = createAuthEvents({ reporter, tenant: 'acme' });
    auth.reportRefresh({
      ...grant,
      tenant: 'not a tenant!',
      subject: 'x'.repeat(5000),
      tokenId: 'rt',
      outcome: 'rejected',
      reason: 'stolen' as RefreshReason,
    });
    const e = reporter.last();
    expect(e).toMatchObject({ tenant: 'acme', reason: 'other' });
    expect(e.subject).toHaveLength(256);
    expectContractValid(e);
    expect(() => createAuthEvents({ reporter, tenant: 'a b' })).toThrow(ConfigurationError);
  });
});

describe('text fields from outside (claims of a forged token, caller headers)', () => {
  it('are cut on a code-point boundary and made well-formed', async () => {
    const { text } = await import('../../../sdk/src/events.ts');
    expect(text('ab😀', 3)).toBe('ab');
    expect(text('ab😀', 4)).toBe('ab😀');
    expect(text('x\ud800y')).toBe('x\ufffdy');
    expect(text('')).toBeUndefined();
    expect(text(5)).toBeUndefined();
  });
});
