import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  REPORTER_DOOR_HEADER,
  REPORTER_ID_HEADER,
  REPORTER_ROLE_HEADER,
  REPORTER_SIG_HEADER,
  reporterFromHeaders,
  reporterHeaders,
  reporterSignature,
} from '../../../../ingest/pipeline/reporter-headers.ts';

const SECRET = 'a-relay-secret-of-at-least-32-characters!';
const VALUE = '{"event_id":"e1","type":"verification"}';

describe('reporter headers', () => {
  it('round-trips a relayed reporter, unsigned when no secret is configured', () => {
    const headers = reporterHeaders({ id: 'acme:abc', role: 'verifier', door: 'http' }, VALUE, '')!;
    expect(headers[REPORTER_SIG_HEADER]).toBeUndefined();
    const consumed = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(reporterFromHeaders(consumed, Buffer.from(VALUE), '')).toStrictEqual({
      ok: true,
      reporter: { id: 'acme:abc', role: 'verifier', door: 'http' },
    });
  });

  it('round-trips a signed reporter, its door included', () => {
    const headers = reporterHeaders(
      { id: 'topic:acme.auth', role: 'auth-server', door: 'kafka' },
      VALUE,
      SECRET,
    )!;
    expect(headers[REPORTER_SIG_HEADER]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const consumed = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(reporterFromHeaders(consumed, Buffer.from(VALUE), SECRET)).toStrictEqual({
      ok: true,
      reporter: { id: 'topic:acme.auth', role: 'auth-server', door: 'kafka' },
      signed: true,
    });
  });

  it('leaves out the headers of a role-less reporter and of the http door, read back as such', () => {
    const headers = reporterHeaders({ id: 'acme:abc', role: '', door: 'http' }, VALUE, SECRET)!;
    expect(Object.keys(headers).sort()).toStrictEqual([REPORTER_ID_HEADER, REPORTER_SIG_HEADER]);
    expect(reporterFromHeaders(headers, VALUE, SECRET)).toStrictEqual({
      ok: true,
      reporter: { id: 'acme:abc', role: '', door: 'http' },
      signed: true,
    });
    // adding the header left out changes what was signed
    expect(reporterFromHeaders({ ...headers, [REPORTER_DOOR_HEADER]: 'http' }, VALUE, SECRET).ok).toBe(false);
  });

  it('signs in the format every instance verifies, whatever reporters and secrets came before', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom('', 'verifier'), fc.string()), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.constantFrom(SECRET, `${SECRET}2`),
        (signings, secret) => {
          for (const [id, role, value] of signings) {
            const expected = createHmac('sha256', secret)
              .update(`${JSON.stringify(['tokenwatch-reporter/v1', id, role, ''])}\n${value}`)
              .digest('base64url');
            expect(reporterSignature(secret, { id, role, door: '' }, value)).toBe(expected);
          }
        },
      ),
    );
  });

  it('verifies the headers of an older instance, which wrote every header (the http door too)', () => {
    const older = { id: 'acme:abc', role: 'verifier', door: 'http' };
    const headers = {
      [REPORTER_ID_HEADER]: older.id,
      [REPORTER_ROLE_HEADER]: older.role,
      [REPORTER_DOOR_HEADER]: older.door,
      [REPORTER_SIG_HEADER]: reporterSignature(SECRET, older, VALUE),
    };
    expect(reporterFromHeaders(headers, VALUE, SECRET)).toStrictEqual({
      ok: true,
      reporter: { id: 'acme:abc', role: 'verifier', door: 'http' },
      signed: true,
    });
  });

  it('names no reporter without headers, or for an unknown one', () => {
    expect(reporterHeaders(undefined, VALUE, SECRET)).toBeUndefined();
    expect(reporterHeaders({ id: '', role: '', door: 'http' }, VALUE, SECRET)).toBeUndefined();
    expect(reporterFromHeaders(undefined, VALUE, SECRET)).toStrictEqual({ ok: true });
    expect(reporterFromHeaders({}, VALUE, SECRET)).toStrictEqual({ ok: true });
  });

  it('keeps no role it does not know (no secret configured)', () => {
    expect(
      reporterFromHeaders({ [REPORTER_ID_HEADER]: 'x', [REPORTER_ROLE_HEADER]: 'admin' }, VALUE, ''),
    ).toStrictEqual({ ok: true, reporter: { id: 'x', role: '', door: 'http' } });
  });

  it('refuses forged headers: unsigned, signed with another key, or moved onto another event', () => {
    const forged = { [REPORTER_ID_HEADER]: 'acme:x', [REPORTER_ROLE_HEADER]: 'auth-server' };
    const unsigned = reporterFromHeaders(forged, VALUE, SECRET);
    expect(unsigned.ok).toBe(false);
    if (!unsigned.ok) {
      expect(unsigned.error.code).toBe('unverified_reporter');
      expect(unsigned.error.message).toContain('without a signature');
    }
    const otherKey = reporterHeaders(
      { id: 'acme:x', role: 'auth-server', door: 'http' },
      VALUE,
      `${SECRET}x`,
    );
    expect(reporterFromHeaders(otherKey, VALUE, SECRET).ok).toBe(false);
    const signed = reporterHeaders({ id: 'acme:x', role: 'verifier', door: 'http' }, VALUE, SECRET)!;
    expect(reporterFromHeaders(signed, `${VALUE} `, SECRET).ok).toBe(false);
    expect(reporterFromHeaders({ ...signed, [REPORTER_ROLE_HEADER]: 'auth-server' }, VALUE, SECRET).ok).toBe(
      false,
    );
    expect(reporterFromHeaders({ ...signed, [REPORTER_DOOR_HEADER]: 'kafka' }, VALUE, SECRET).ok).toBe(false);
  });

  it('never throws on hostile headers, bounds the id, and believes no header it did not sign', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            REPORTER_ID_HEADER,
            REPORTER_ROLE_HEADER,
            REPORTER_DOOR_HEADER,
            REPORTER_SIG_HEADER,
            'other',
          ),
          fc.oneof(
            fc.string({ maxLength: 500 }),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
            fc.array(fc.string(), { maxLength: 3 }),
          ),
        ),
        fc.string({ maxLength: 200 }),
        (headers, value) => {
          const open = reporterFromHeaders(headers, value, '');
          expect(open.ok).toBe(true);
          if (open.ok && open.reporter !== undefined) {
            expect(open.reporter.id.length).toBeLessThanOrEqual(128);
            expect(['', 'verifier', 'auth-server']).toContain(open.reporter.role);
            expect(['http', 'kafka']).toContain(open.reporter.door);
          }
          const signed = reporterFromHeaders(headers, value, SECRET);
          if (signed.ok) expect(signed.reporter).toBeUndefined();
          else expect(signed.error.code).toBe('unverified_reporter');
        },
      ),
    );
  });

  it('verifies exactly what it signed, for any reporter and value', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.constantFrom('verifier' as const, 'auth-server' as const, '' as const),
        fc.constantFrom('http' as const, 'kafka' as const),
        fc.string({ maxLength: 300 }),
        (id, role, door, value) => {
          const headers = reporterHeaders({ id, role, door }, value, SECRET)!;
          const back = reporterFromHeaders(headers, Buffer.from(value, 'utf8'), SECRET);
          expect(back.ok).toBe(true);
          if (back.ok) expect(back.reporter).toStrictEqual({ id: headers[REPORTER_ID_HEADER], role, door });
          // signed as written: a header left out (role '', door http) is signed as ''
          const written = {
            id: headers[REPORTER_ID_HEADER]!,
            role: headers[REPORTER_ROLE_HEADER] ?? '',
            door: headers[REPORTER_DOOR_HEADER] ?? '',
          };
          expect(written.role).toBe(role);
          expect(written.door).toBe(door === 'http' ? '' : door);
          expect(reporterSignature(SECRET, written, value)).toBe(headers[REPORTER_SIG_HEADER]);
        },
      ),
    );
  });
});
