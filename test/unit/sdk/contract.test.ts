/**
 * The SDK is a package of its own and cannot import tokenwatch's contract module, so it carries
 * copies of the contract's lists and of the revocation notice. These tests keep the copies equal.
 */
import { describe, expect, it } from 'vitest';
import { REFRESH_REASONS, VERIFICATION_REASONS } from '../../../ingest/contract/event-v1.ts';
import { REVOCATION_TARGETS as RESPONSE_TARGETS } from '../../../response/policy.ts';
import * as sdk from '../../../sdk/src/index.ts';

describe('SDK and event contract', () => {
  it('has the same verification and refresh reasons', () => {
    expect([...sdk.VERIFICATION_REASONS]).toStrictEqual([...VERIFICATION_REASONS]);
    expect([...sdk.REFRESH_REASONS]).toStrictEqual([...REFRESH_REASONS]);
  });

  it('knows every revocation target the response stage publishes', () => {
    expect([...sdk.REVOCATION_TARGETS].sort()).toStrictEqual([...RESPONSE_TARGETS].sort());
  });
});
