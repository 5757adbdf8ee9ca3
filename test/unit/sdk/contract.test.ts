/**
 * The SDK is a package of its own and cannot import tokenwatch's contract module, so it carries
 * copies of the contract's lists and of the revocation notice. These tests keep the copies equal.
 */
import { describe, expect, it } from 'vitest';
import { REFRESH_REASONS, VERIFICATION_REASONS } from '../../../contract/event-v1.ts';
import type { RevocationNotice as PublishedNotice } from '../../../contract/revocation-notice-v1.ts';
import { REVOCATION_TARGETS as RESPONSE_TARGETS } from '../../../response/decide/policy.ts';
import * as sdk from '../../../sdk/src/index.ts';

describe('SDK and event contract', () => {
  it('has the same verification and refresh reasons', () => {
    expect([...sdk.VERIFICATION_REASONS]).toStrictEqual([...VERIFICATION_REASONS]);
    expect([...sdk.REFRESH_REASONS]).toStrictEqual([...REFRESH_REASONS]);
  });

  it('knows every revocation target the response stage publishes', () => {
    expect([...sdk.REVOCATION_TARGETS].sort()).toStrictEqual([...RESPONSE_TARGETS].sort());
  });

  it('takes every notice tokenwatch publishes, as published', () => {
    const published: PublishedNotice = {
      version: 1,
      revocation_id: 'rev-1',
      tenant: 'acme',
      subject: 'alice',
      target: 'jti',
      id: 'jti-1',
      expires_at_ms: Date.now() + 60_000,
      revoked_at_ms: Date.now(),
      detection_id: 'det-1',
      detector: 'refresh_replay',
      via: { target: 'family', id: 'fam-1' },
    };
    const taken: sdk.RevocationNotice = published; // the types agree
    expect(sdk.parseNotice(JSON.parse(JSON.stringify(taken)))).toStrictEqual(published);
  });
});
