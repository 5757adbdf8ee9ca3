import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  REPORTER_ID_HEADER,
  REPORTER_ROLE_HEADER,
  reporterFromHeaders,
  reporterHeaders,
} from '../../../../ingest/pipeline/reporter-headers.ts';

describe('reporter headers (the HTTP door relaying to Kafka)', () => {
  it('round-trips a reporter through Kafka headers (as Buffers, as kafkajs gives them)', () => {
    const headers = reporterHeaders({ id: 'acme:abc', role: 'verifier', door: 'http' })!;
    const consumed = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(reporterFromHeaders(consumed)).toStrictEqual({ id: 'acme:abc', role: 'verifier', door: 'http' });
  });

  it('no headers for an unknown reporter, no reporter from no headers', () => {
    expect(reporterHeaders(undefined)).toBeUndefined();
    expect(reporterHeaders({ id: '', role: '', door: 'http' })).toBeUndefined();
    expect(reporterFromHeaders(undefined)).toBeUndefined();
    expect(reporterFromHeaders({})).toBeUndefined();
  });

  it('a role that is not one is no role', () => {
    expect(reporterFromHeaders({ [REPORTER_ID_HEADER]: 'x', [REPORTER_ROLE_HEADER]: 'admin' })).toStrictEqual(
      {
        id: 'x',
        role: '',
        door: 'http',
      },
    );
  });

  it('never throws on hostile headers, and bounds the id', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(REPORTER_ID_HEADER, REPORTER_ROLE_HEADER, 'other'),
          fc.oneof(
            fc.string({ maxLength: 500 }),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
            fc.array(fc.string(), { maxLength: 3 }),
          ),
        ),
        (headers) => {
          const r = reporterFromHeaders(headers);
          if (r !== undefined) {
            expect(r.id.length).toBeLessThanOrEqual(128);
            expect(['', 'verifier', 'auth-server']).toContain(r.role);
          }
        },
      ),
    );
  });
});
