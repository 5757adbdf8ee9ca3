/** The poller's mapping of Keycloak's stored events: the listener's table, and hostile input. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkKeycloakEvent,
  type KeycloakEvent,
  mapKeycloakEvent,
  refreshReason,
} from '../../../../../ingest/sources/keycloak/event-mapper.ts';

const O = { tenant: 'acme', realm: 'shop', realmRevokesRefreshTokens: false };
const SID = 'f3a1b2c4-0000-4000-8000-000000000001';
const USER = 'a1b2c3d4-0000-4000-8000-000000000002';

const ev = (
  type: string,
  more: Partial<KeycloakEvent> = {},
  details: Record<string, string> = {},
): KeycloakEvent => ({
  id: `ev-${type}`,
  timeMs: 1_764_590_000_123,
  type,
  clientId: 'web',
  userId: USER,
  sessionId: SID,
  ipAddress: '85.214.132.117',
  details,
  ...more,
});

const common = (type: string, tw: string) => ({
  event_id: `ev-${type}`,
  type: tw,
  time: 1_764_590_000_123,
  tenant: 'acme',
  source: 'keycloak:shop',
  subject: USER,
  client_id: 'web',
  session_id: SID,
  ip: '85.214.132.117',
  keycloak_type: type,
});

describe('mapKeycloakEvent: the listener’s mapping', () => {
  const cases: [string, KeycloakEvent, unknown][] = [
    [
      'LOGIN (direct grant) → issuance',
      ev(
        'LOGIN',
        {},
        {
          refresh_token_id: 'rt1',
          token_id: 'onrtac:at1',
          grant_type: 'password',
          refresh_token_type: 'Refresh',
        },
      ),
      {
        ...common('LOGIN', 'issuance'),
        outcome: 'ok',
        reason: 'login',
        family_id: `${SID}:web`,
        token_id: 'rt1',
        access_jti: 'onrtac:at1',
        grant_type: 'password',
        refresh_token_type: 'Refresh',
      },
    ],
    [
      'LOGIN (browser) → issuance without tokens',
      ev('LOGIN', {}, { auth_method: 'openid-connect' }),
      { ...common('LOGIN', 'issuance'), outcome: 'ok', reason: 'login', family_id: `${SID}:web` },
    ],
    [
      'CODE_TO_TOKEN → issuance',
      ev('CODE_TO_TOKEN', {}, { refresh_token_id: 'rt1', token_id: 'at1' }),
      {
        ...common('CODE_TO_TOKEN', 'issuance'),
        outcome: 'ok',
        reason: 'code_to_token',
        family_id: `${SID}:web`,
        token_id: 'rt1',
        access_jti: 'at1',
      },
    ],
    [
      'REFRESH_TOKEN → refresh rotated',
      ev('REFRESH_TOKEN', {}, { refresh_token_id: 'rt1', updated_refresh_token_id: 'rt2', token_id: 'at2' }),
      {
        ...common('REFRESH_TOKEN', 'refresh'),
        outcome: 'rotated',
        reason: 'ok',
        family_id: `${SID}:web`,
        token_id: 'rt1',
        new_token_id: 'rt2',
        access_jti: 'at2',
      },
    ],
    [
      'REFRESH_TOKEN_ERROR, reuse: subject from the token, Keycloak’s words kept',
      ev('REFRESH_TOKEN_ERROR', { userId: undefined, error: 'invalid_token' } as Partial<KeycloakEvent>, {
        refresh_token_id: 'rt1',
        refresh_token_sub: USER,
        reason: 'Maximum allowed refresh token reuse exceeded',
      }),
      {
        ...common('REFRESH_TOKEN_ERROR', 'refresh'),
        outcome: 'rejected',
        reason: 'reuse_detected',
        family_id: `${SID}:web`,
        token_id: 'rt1',
        keycloak_error: 'invalid_token',
        keycloak_reason: 'Maximum allowed refresh token reuse exceeded',
      },
    ],
    [
      'LOGOUT → revocation of the session',
      ev('LOGOUT'),
      { ...common('LOGOUT', 'revocation'), outcome: 'ok', reason: 'logout' },
    ],
    [
      'REVOKE_GRANT of a refresh token → its family',
      ev('REVOKE_GRANT', {}, { refresh_token_id: 'rt9', refresh_token_type: 'Refresh' }),
      {
        ...common('REVOKE_GRANT', 'revocation'),
        outcome: 'ok',
        reason: 'revoke_grant',
        family_id: `${SID}:web`,
        token_id: 'rt9',
        refresh_token_type: 'Refresh',
      },
    ],
    [
      'REVOKE_GRANT of an access token → its jti',
      ev('REVOKE_GRANT', { sessionId: undefined } as Partial<KeycloakEvent>, { token_id: 'at9' }),
      (() => {
        const { session_id: _s, ...rest } = common('REVOKE_GRANT', 'revocation');
        return { ...rest, outcome: 'ok', reason: 'revoke_grant', jti: 'at9' };
      })(),
    ],
  ];
  it.each(cases)('%s', (_name, input, want) => {
    const clean = Object.fromEntries(
      Object.entries(input).filter(([, v]) => v !== undefined),
    ) as unknown as KeycloakEvent;
    expect(mapKeycloakEvent(clean, O)).toEqual({ ok: true, event: want });
  });

  it('skips what the listener skips', () => {
    expect(mapKeycloakEvent(ev('UPDATE_PROFILE'), O)).toEqual({ ok: false, skipped: 'not_taken' });
    // a refresh error raised before Keycloak read the token: no token id
    expect(mapKeycloakEvent(ev('REFRESH_TOKEN_ERROR', {}, { reason: 'Invalid refresh token' }), O)).toEqual({
      ok: false,
      skipped: 'unattributable',
    });
    const { sessionId: _s, ...noSession } = ev('REFRESH_TOKEN', {}, { refresh_token_id: 'rt1' });
    expect(mapKeycloakEvent(noSession as KeycloakEvent, O)).toEqual({ ok: false, skipped: 'unattributable' });
  });

  const reasons: [string | undefined, string | undefined, boolean, string][] = [
    ['invalid_token', 'Maximum allowed refresh token reuse exceeded', false, 'reuse_detected'],
    ['invalid_token', 'Stale token', true, 'reuse_detected'],
    ['invalid_token', 'Stale token', false, 'revoked'],
    ['invalid_token', 'Token is not active', false, 'expired'],
    ['session_expired', undefined, false, 'expired'],
    ['invalid_token', 'Session not active', false, 'revoked'],
    ['invalid_token', "Session doesn't have required client", false, 'revoked'],
    ['user_disabled', undefined, false, 'revoked'],
    ['invalid_token', 'Invalid refresh token', false, 'invalid'],
    ['invalid_token', 'Unmatching clients', false, 'invalid'],
    ['invalid_token_type', undefined, false, 'invalid'],
    ['invalid_request', 'something new', false, 'other'],
    [undefined, undefined, false, 'other'],
  ];
  it.each(reasons)('refresh error %s / %s (revokeRefreshToken %s) → %s', (error, reason, revokes, want) => {
    expect(refreshReason(error, reason, revokes)).toBe(want);
  });
});

describe('checkKeycloakEvent: Keycloak’s answer is untrusted', () => {
  it('takes a REST EventRepresentation, nulls as absent, seconds as seconds', () => {
    const raw = {
      id: 'e1',
      time: 1_764_590_000_123,
      type: 'LOGIN',
      realmId: 'r-uuid',
      clientId: 'web',
      userId: USER,
      sessionId: SID,
      ipAddress: '1.2.3.4',
      error: null,
      details: { token_id: 'a', refresh_token_id: 'b' },
    };
    expect(checkKeycloakEvent(raw)).toEqual({
      ok: true,
      event: {
        id: 'e1',
        timeMs: 1_764_590_000_123,
        type: 'LOGIN',
        clientId: 'web',
        userId: USER,
        sessionId: SID,
        ipAddress: '1.2.3.4',
        details: { token_id: 'a', refresh_token_id: 'b' },
      },
    });
    expect(checkKeycloakEvent({ ...raw, time: 1_764_590_000 })).toMatchObject({
      ok: true,
      event: { timeMs: 1_764_590_000_000 },
    });
  });

  const bad: [string, unknown][] = [
    ['not an object', 'LOGIN'],
    ['an array', []],
    ['null', null],
    ['no id', { time: 1, type: 'LOGIN' }],
    ['a numeric id', { id: 5, time: 1, type: 'LOGIN' }],
    ['a string time', { id: 'e', time: '2026-01-01', type: 'LOGIN' }],
    ['a negative time', { id: 'e', time: -1, type: 'LOGIN' }],
    ['a fractional time', { id: 'e', time: 1.5, type: 'LOGIN' }],
    ['no type', { id: 'e', time: 1 }],
    ['a control character', { id: 'e', time: 1, type: 'LOGIN', userId: 'a\nb' }],
    ['a huge field', { id: 'e', time: 1, type: 'LOGIN', sessionId: 'x'.repeat(5000) }],
    ['details an array', { id: 'e', time: 1, type: 'LOGIN', details: ['a'] }],
    ['a detail not a string', { id: 'e', time: 1, type: 'LOGIN', details: { token_id: 7 } }],
  ];
  it.each(bad)('refuses %s, saying why', (_name, raw) => {
    const c = checkKeycloakEvent(raw);
    expect(c.ok).toBe(false);
    expect(!c.ok && c.why.length).toBeGreaterThan(5);
  });

  it('never throws, whatever JSON Keycloak (or what poses as it) sends', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = checkKeycloakEvent(v);
        if (c.ok) mapKeycloakEvent(c.event, O);
      }),
      { numRuns: 2000 },
    );
  });

  it('maps every event it takes to flat strings and numbers, its id and realm kept, nothing empty', () => {
    const text = fc.option(fc.string({ maxLength: 40 }), { nil: undefined });
    const types = fc.constantFrom(
      'LOGIN',
      'CODE_TO_TOKEN',
      'REFRESH_TOKEN',
      'REFRESH_TOKEN_ERROR',
      'LOGOUT',
      'REVOKE_GRANT',
      'OTHER',
    );
    const raw = fc.record({
      id: fc.string({ minLength: 1, maxLength: 40 }),
      time: fc.integer({ min: 1, max: 4_102_444_800_000 }),
      type: types,
      clientId: text,
      userId: text,
      sessionId: text,
      ipAddress: text,
      error: text,
      details: fc.dictionary(
        fc.constantFrom(
          'token_id',
          'refresh_token_id',
          'updated_refresh_token_id',
          'reason',
          'refresh_token_sub',
          'x',
        ),
        fc.string({ maxLength: 40 }),
      ),
    });
    fc.assert(
      fc.property(raw, (r) => {
        const c = checkKeycloakEvent(r);
        if (!c.ok) return; // control characters: refused, said why
        const m = mapKeycloakEvent(c.event, O);
        if (!m.ok) return;
        expect(m.event['event_id']).toBe(r.id);
        expect(m.event['source']).toBe('keycloak:shop');
        expect(m.event['keycloak_type']).toBe(r.type);
        for (const v of Object.values(m.event)) {
          expect(['string', 'number']).toContain(typeof v);
          expect(v).not.toBe('');
        }
        if (m.event['type'] === 'refresh') {
          expect(m.event['token_id']).toBeTruthy();
          expect(m.event['family_id']).toBe(`${r.sessionId}:${r.clientId}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
