/** The Keycloak adapter's pure half: which admin call revokes which target, and what each answer means. */
import { describe, expect, it } from 'vitest';
import {
  classifyKeycloakAnswer,
  type KeycloakCall,
  keycloakCapabilities,
  planKeycloakRevocation,
  splitFamily,
} from '../../../../../response/revoke/keycloak/calls.ts';

const SID = '4b2f0d6e-7c1a-4f55-9a3e-0d9c2b7e1f10';
const SUB = 'e3d1c2b0-1111-4222-8333-944455556666';

describe('planKeycloakRevocation', () => {
  const cases: [string, Parameters<typeof planKeycloakRevocation>, unknown][] = [
    [
      'family, session mode: the user session',
      [{ target: 'family', id: `${SID}:web-app`, subject: SUB }, 'session'],
      { kind: 'call', call: { method: 'DELETE', path: `/sessions/${SID}` } },
    ],
    [
      'family, consent mode: the consent of the user for the client',
      [{ target: 'family', id: `${SID}:web-app`, subject: SUB }, 'consent'],
      { kind: 'call', call: { method: 'DELETE', path: `/users/${SUB}/consents/web-app` } },
    ],
    [
      'family of a client id with colons: split at the first, the client id escaped',
      [{ target: 'family', id: `${SID}:urn:acme:app`, subject: SUB }, 'consent'],
      { kind: 'call', call: { path: `/users/${SUB}/consents/urn%3Aacme%3Aapp` } },
    ],
    [
      'session',
      [{ target: 'session', id: SID, subject: SUB }, 'session'],
      { kind: 'call', call: { method: 'DELETE', path: `/sessions/${SID}` } },
    ],
    [
      'subject: logout',
      [{ target: 'subject', id: SUB, subject: SUB }, 'session'],
      { kind: 'call', call: { method: 'POST', path: `/users/${SUB}/logout` } },
    ],
    [
      'jti: denylist only',
      [{ target: 'jti', id: 'onrtrt:abc', subject: SUB }, 'session'],
      { kind: 'denylist_only' },
    ],
    [
      'family without a colon (another source’s family)',
      [{ target: 'family', id: 'fam-123', subject: SUB }, 'session'],
      { kind: 'invalid' },
    ],
    [
      'family ending in a colon',
      [{ target: 'family', id: `${SID}:`, subject: SUB }, 'session'],
      { kind: 'invalid' },
    ],
    [
      'a session id that would change the path',
      [{ target: 'session', id: '../users/x/logout', subject: SUB }, 'session'],
      { kind: 'invalid' },
    ],
    [
      'a subject with a query',
      [{ target: 'subject', id: 'a?b=c', subject: 'a?b=c' }, 'session'],
      { kind: 'invalid' },
    ],
    ['an empty session id', [{ target: 'session', id: '', subject: SUB }, 'session'], { kind: 'invalid' }],
    [
      'consent mode with a bad subject',
      [{ target: 'family', id: `${SID}:app`, subject: 'x/y' }, 'consent'],
      { kind: 'invalid' },
    ],
  ];
  it.each(cases)('%s', (_name, args, want) => {
    expect(planKeycloakRevocation(...args)).toMatchObject(want as object);
  });

  it('an invalid plan says what was wrong with which id', () => {
    const p = planKeycloakRevocation({ target: 'family', id: 'fam-123', subject: SUB }, 'session');
    expect(p.kind === 'invalid' && p.why).toContain('"fam-123" is not "<user session id>:<client id>"');
  });

  it('splitFamily takes the session id before the first colon', () => {
    expect(splitFamily('s:c:d')).toEqual({ sid: 's', clientId: 'c:d' });
    expect(splitFamily(':c')).toBeUndefined();
  });

  it('declares jti as denylist only, the rest as server calls', () => {
    for (const mode of ['session', 'consent'] as const) {
      const c = keycloakCapabilities(mode);
      expect(Object.fromEntries(Object.entries(c).map(([t, v]) => [t, v.how]))).toEqual({
        family: 'server',
        session: 'server',
        subject: 'server',
        jti: 'denylist_only',
      });
    }
  });
});

describe('classifyKeycloakAnswer', () => {
  const call: KeycloakCall = { method: 'DELETE', path: `/sessions/${SID}`, role: 'manage-users' };
  const cases: [number, number, string][] = [
    // status, earlier attempts, outcome
    [204, 0, 'done'],
    [200, 0, 'done'],
    [204, 3, 'done'],
    [404, 0, 'not_found'],
    [404, 1, 'done'],
    [404, 7, 'done'],
    [0, 0, 'retry'],
    [408, 0, 'retry'],
    [425, 0, 'retry'],
    [429, 0, 'retry'],
    [500, 0, 'retry'],
    [502, 2, 'retry'],
    [503, 0, 'retry'],
    [504, 0, 'retry'],
    [400, 0, 'failed'],
    [401, 0, 'failed'],
    [403, 0, 'failed'],
    [409, 0, 'failed'],
    [501, 0, 'failed'],
  ];
  it.each(cases)('%i after %i earlier attempts → %s', (status, earlierAttempts, kind) => {
    const out = classifyKeycloakAnswer({
      status,
      body: '{"error":"x"}',
      latencyMs: 3,
      earlierAttempts,
      call,
    });
    expect(out).toMatchObject({ kind, status, latencyMs: 3 });
    expect(out.detail).toContain(`DELETE /sessions/${SID}`);
  });

  it('keeps Retry-After, and names the missing role on 403', () => {
    expect(
      classifyKeycloakAnswer({
        status: 429,
        body: '',
        latencyMs: 1,
        earlierAttempts: 0,
        call,
        retryAfterMs: 2000,
      }),
    ).toMatchObject({ kind: 'retry', retryAfterMs: 2000 });
    expect(
      classifyKeycloakAnswer({ status: 403, body: '', latencyMs: 1, earlierAttempts: 0, call }).detail,
    ).toContain('manage-users');
    expect(
      classifyKeycloakAnswer({
        status: 0,
        body: '',
        latencyMs: 0,
        earlierAttempts: 0,
        call,
        error: 'ECONNREFUSED',
      }).detail,
    ).toContain('ECONNREFUSED');
  });
});
