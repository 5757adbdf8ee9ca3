/**
 * Keycloak's side of a revocation, pure: which admin REST call revokes which target, and what each
 * answer means. Keycloak (26.x) has no admin call that revokes one access token or one client
 * session alone (RFC 7009 needs the token itself, which tokenwatch never holds):
 *
 *   family   "<user session id>:<client id>" (the listener's and the poller's family_id) →
 *              familyMode session: DELETE /admin/realms/{realm}/sessions/{sid}   (the whole user session)
 *              familyMode consent: DELETE /admin/realms/{realm}/users/{sub}/consents/{client}
 *                                  (the user's grant to the client: offline tokens die with it)
 *   session  DELETE /admin/realms/{realm}/sessions/{sid}
 *   subject  POST   /admin/realms/{realm}/users/{sub}/logout   (every session; not-before moves to now)
 *   jti      no call: denylist notice only
 *
 * Answers: 2xx done; 404 not_found — or done when an earlier attempt of the same revocation may
 * have got through (Keycloak's deletes are not idempotent: the second is 404); 408/425/429/5xx and
 * no answer retry; 401 once more with a fresh token, then failed; 403 failed (a role is missing);
 * any other 4xx failed.
 */
import type { RevocationTarget } from '../../../contract/revocation-api-v1.ts';
import type { RevocationOutcome, TargetCapability } from '../adapter.ts';

export const FAMILY_MODES = ['session', 'consent'] as const;
export type FamilyMode = (typeof FAMILY_MODES)[number];

export interface KeycloakCall {
  method: 'DELETE' | 'POST';
  /** below <base URL>/admin/realms/{realm} */
  path: string;
  /** the realm-management role it needs */
  role: 'manage-users';
}

export type KeycloakPlan =
  | { kind: 'call'; call: KeycloakCall }
  | { kind: 'denylist_only'; why: string }
  /** the target's id is not what Keycloak's ids look like: no call could succeed */
  | { kind: 'invalid'; why: string };

/** What the Keycloak adapter does per target, for the docs and the start-up log. */
export function keycloakCapabilities(familyMode: FamilyMode): Record<RevocationTarget, TargetCapability> {
  return {
    family:
      familyMode === 'session'
        ? { how: 'server', call: 'DELETE /sessions/{sid} (the user session of the client session)' }
        : { how: 'server', call: 'DELETE /users/{subject}/consents/{client} (the offline consent)' },
    session: { how: 'server', call: 'DELETE /sessions/{sid}' },
    subject: { how: 'server', call: 'POST /users/{subject}/logout' },
    jti: {
      how: 'denylist_only',
      call: 'Keycloak has no admin call that revokes one access token: denylist notice only',
    },
  };
}

/** Keycloak's ids as they appear in paths: no slash, no control character, a sane length. */
const ID = /^[^\s/\\?#%]{1,255}$/;

/** Splits a family id "<session id>:<client id>" at its first colon (session ids have none; client ids may). */
export function splitFamily(id: string): { sid: string; clientId: string } | undefined {
  const at = id.indexOf(':');
  if (at <= 0 || at === id.length - 1) return undefined;
  return { sid: id.slice(0, at), clientId: id.slice(at + 1) };
}

/** The admin call that revokes `target` `id` (of user `subject`), or why there is none. */
export function planKeycloakRevocation(
  r: { target: RevocationTarget; id: string; subject: string },
  familyMode: FamilyMode,
): KeycloakPlan {
  const bad = (what: string, value: string) => ({
    kind: 'invalid' as const,
    why: `${what} ${JSON.stringify(value.slice(0, 80))} is not a Keycloak id (1–255 characters, no space, slash, backslash, ?, # or %)`,
  });
  const seg = encodeURIComponent;
  switch (r.target) {
    case 'jti':
      return { kind: 'denylist_only', why: keycloakCapabilities(familyMode).jti.call };
    case 'session':
      if (!ID.test(r.id)) return bad('session id', r.id);
      return {
        kind: 'call',
        call: { method: 'DELETE', path: `/sessions/${seg(r.id)}`, role: 'manage-users' },
      };
    case 'subject':
      if (!ID.test(r.id)) return bad('subject (user id)', r.id);
      return {
        kind: 'call',
        call: { method: 'POST', path: `/users/${seg(r.id)}/logout`, role: 'manage-users' },
      };
    case 'family': {
      const f = splitFamily(r.id);
      if (f === undefined)
        return {
          kind: 'invalid',
          why:
            `family id ${JSON.stringify(r.id.slice(0, 80))} is not "<user session id>:<client id>" ` +
            "(Keycloak's listener and poller report families so; was it reported by another source?)",
        };
      if (!ID.test(f.sid)) return bad('session id', f.sid);
      if (familyMode === 'session')
        return {
          kind: 'call',
          call: { method: 'DELETE', path: `/sessions/${seg(f.sid)}`, role: 'manage-users' },
        };
      if (!ID.test(r.subject)) return bad('subject (user id)', r.subject);
      if (!ID.test(f.clientId)) return bad('client id', f.clientId);
      return {
        kind: 'call',
        call: {
          method: 'DELETE',
          path: `/users/${seg(r.subject)}/consents/${seg(f.clientId)}`,
          role: 'manage-users',
        },
      };
    }
  }
}

const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * What Keycloak's answer to a revocation call means. `status` 0: no answer (timeout, network).
 * `earlierAttempts`: attempts of the same revocation before this one.
 */
export function classifyKeycloakAnswer(a: {
  status: number;
  body: string;
  latencyMs: number;
  earlierAttempts: number;
  call: KeycloakCall;
  retryAfterMs?: number | undefined;
  /** the error when there was no answer */
  error?: string;
}): RevocationOutcome {
  const { status, latencyMs } = a;
  const said = a.body.slice(0, 300);
  const what = `${a.call.method} ${a.call.path}`;
  if (status === 0) return { kind: 'retry', status, latencyMs, detail: `${what}: ${a.error ?? 'no answer'}` };
  if (status >= 200 && status < 300) return { kind: 'done', status, latencyMs, detail: `${what}: ${status}` };
  if (status === 404)
    return a.earlierAttempts > 0
      ? {
          kind: 'done',
          status,
          latencyMs,
          detail: `${what}: 404 after ${a.earlierAttempts} earlier attempt(s): gone, taken as done (Keycloak's deletes are not idempotent)`,
        }
      : { kind: 'not_found', status, latencyMs, detail: `${what}: 404 ${said}` };
  if (RETRY_STATUSES.has(status))
    return {
      kind: 'retry',
      status,
      latencyMs,
      detail: `${what}: ${status} ${said}`,
      ...(a.retryAfterMs !== undefined ? { retryAfterMs: a.retryAfterMs } : {}),
    };
  if (status === 401)
    return {
      kind: 'failed',
      status,
      latencyMs,
      detail: `${what}: 401 with a fresh service-account token: check TOKENWATCH_KEYCLOAK_CLIENT_ID/_SECRET and the realm`,
    };
  if (status === 403)
    return {
      kind: 'failed',
      status,
      latencyMs,
      detail: `${what}: 403: the service account lacks the realm-management role ${a.call.role} (give it manage-users and view-events)`,
    };
  return { kind: 'failed', status, latencyMs, detail: `${what}: ${status} ${said}` };
}
