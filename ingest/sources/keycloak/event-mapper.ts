/**
 * Keycloak's stored user events (`GET /admin/realms/{realm}/events`, EventRepresentation) mapped to
 * tokenwatch events (contract v1) exactly as the Java listener maps them
 * (integrations/keycloak-listener/…/EventMapper.java; the table is in docs/auth-servers.md). Pure.
 * Keycloak's answer is untrusted input: every field is checked (type, length, no control
 * characters) and an event that does not pass is skipped with the reason, never half-mapped.
 *
 *   LOGIN, CODE_TO_TOKEN   -> issuance   (token_id = refresh token issued, access_jti = access token)
 *   REFRESH_TOKEN          -> refresh    rotated / ok (token_id presented, new_token_id issued)
 *   REFRESH_TOKEN_ERROR    -> refresh    rejected / reuse_detected | expired | revoked | invalid | other
 *   LOGOUT                 -> revocation (the user session: every family in it)
 *   REVOKE_GRANT           -> revocation (a refresh token's family, or one access token's jti)
 */

/** The event types the poller asks Keycloak for (the listener maps the same). */
export const POLLED_TYPES = [
  'LOGIN',
  'CODE_TO_TOKEN',
  'REFRESH_TOKEN',
  'REFRESH_TOKEN_ERROR',
  'LOGOUT',
  'REVOKE_GRANT',
] as const;

export interface KeycloakEvent {
  id: string;
  /** epoch ms */
  timeMs: number;
  type: string;
  clientId?: string;
  userId?: string;
  sessionId?: string;
  ipAddress?: string;
  error?: string;
  details: Record<string, string>;
}

export type Checked = { ok: true; event: KeycloakEvent } | { ok: false; why: string };

const MAX_TEXT = 1024;
const MAX_DETAILS = 64;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A string field: absent/null → undefined; anything else must be a sane string. */
function text(v: unknown, name: string, problems: string[]): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    problems.push(`${name} is ${typeof v}, not a string`);
    return undefined;
  }
  if (v.length > MAX_TEXT) problems.push(`${name} is longer than ${MAX_TEXT} characters`);
  else if (CONTROL.test(v)) problems.push(`${name} holds a control character`);
  return v === '' ? undefined : v;
}

/**
 * Checks one element of Keycloak's events array. `time` is epoch ms (Keycloak 12+); a value that
 * can only be seconds (before 2001 as ms) is taken as seconds.
 */
export function checkKeycloakEvent(raw: unknown): Checked {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, why: 'an event is not a JSON object' };
  const r = raw as Record<string, unknown>;
  const problems: string[] = [];
  const id = text(r['id'], 'id', problems);
  const type = text(r['type'], 'type', problems);
  const time = r['time'];
  let timeMs = 0;
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time <= 0)
    problems.push(`time ${JSON.stringify(time)?.slice(0, 40)} is not a positive integer`);
  else timeMs = time < 1e12 ? time * 1000 : time;
  if (timeMs > 8.64e15) problems.push('time is past the year 275760');
  const details: Record<string, string> = {};
  const d = r['details'];
  if (d !== undefined && d !== null) {
    if (typeof d !== 'object' || Array.isArray(d)) problems.push('details is not an object');
    else {
      const entries = Object.entries(d as Record<string, unknown>);
      if (entries.length > MAX_DETAILS) problems.push(`details has more than ${MAX_DETAILS} entries`);
      else
        for (const [k, v] of entries) {
          const value = text(v, `details.${k.slice(0, 40)}`, problems);
          if (value !== undefined) details[k] = value;
        }
    }
  }
  const fields = {
    clientId: text(r['clientId'], 'clientId', problems),
    userId: text(r['userId'], 'userId', problems),
    sessionId: text(r['sessionId'], 'sessionId', problems),
    ipAddress: text(r['ipAddress'], 'ipAddress', problems),
    error: text(r['error'], 'error', problems),
  };
  if (id === undefined) problems.push('id is missing');
  if (type === undefined) problems.push('type is missing');
  if (problems.length > 0 || id === undefined || type === undefined)
    return { ok: false, why: `event ${JSON.stringify(id ?? '?')}: ${problems.join('; ')}` };
  const event: KeycloakEvent = { id, timeMs, type, details };
  for (const [k, v] of Object.entries(fields))
    if (v !== undefined) (event as unknown as Record<string, string>)[k] = v;
  return { ok: true, event };
}

export type Mapped =
  | { ok: true; event: Record<string, string | number> }
  | { ok: false; skipped: 'not_taken' | 'unattributable' };

/** Members whose value is undefined or empty are left out, as the listener's JSON writer does. */
function object(entries: [string, string | number | undefined][]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of entries) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/** "<user session id>:<client id>", or undefined. */
export function familyOf(e: KeycloakEvent): string | undefined {
  if (e.sessionId === undefined || e.clientId === undefined) return undefined;
  return `${e.sessionId}:${e.clientId}`;
}

function common(
  e: KeycloakEvent,
  type: string,
  tenant: string,
  realm: string,
): [string, string | number | undefined][] {
  return [
    ['event_id', e.id],
    ['type', type],
    ['time', e.timeMs],
    ['tenant', tenant],
    ['source', `keycloak:${realm}`],
    ['subject', e.userId ?? e.details['refresh_token_sub']],
    ['client_id', e.clientId],
    ['session_id', e.sessionId],
    ['ip', e.ipAddress],
    ['keycloak_type', e.type],
  ];
}

/** Maps a checked event; `realm` is the realm's name (REST events carry only its id). */
export function mapKeycloakEvent(
  e: KeycloakEvent,
  o: { tenant: string; realm: string; realmRevokesRefreshTokens: boolean },
): Mapped {
  const d = e.details;
  const base = (type: string) => common(e, type, o.tenant, o.realm);
  switch (e.type) {
    case 'LOGIN':
    case 'CODE_TO_TOKEN':
      return {
        ok: true,
        event: object([
          ...base('issuance'),
          ['outcome', 'ok'],
          ['reason', e.type === 'LOGIN' ? 'login' : 'code_to_token'],
          ['family_id', familyOf(e)],
          ['token_id', d['refresh_token_id']],
          ['access_jti', d['token_id']],
          ['grant_type', d['grant_type']],
          ['refresh_token_type', d['refresh_token_type']],
        ]),
      };
    case 'REFRESH_TOKEN':
      return refresh(e, base, 'rotated', 'ok');
    case 'REFRESH_TOKEN_ERROR':
      return refresh(e, base, 'rejected', refreshReason(e.error, d['reason'], o.realmRevokesRefreshTokens));
    case 'LOGOUT':
      return { ok: true, event: object([...base('revocation'), ['outcome', 'ok'], ['reason', 'logout']]) };
    case 'REVOKE_GRANT':
      return {
        ok: true,
        event: object(
          d['refresh_token_id'] !== undefined
            ? [
                ...base('revocation'),
                ['outcome', 'ok'],
                ['reason', 'revoke_grant'],
                ['family_id', familyOf(e)],
                ['token_id', d['refresh_token_id']],
                ['refresh_token_type', d['refresh_token_type']],
              ]
            : [...base('revocation'), ['outcome', 'ok'], ['reason', 'revoke_grant'], ['jti', d['token_id']]],
        ),
      };
    default:
      return { ok: false, skipped: 'not_taken' };
  }
}

function refresh(
  e: KeycloakEvent,
  base: (type: string) => [string, string | number | undefined][],
  outcome: string,
  reason: string,
): Mapped {
  const d = e.details;
  const presented = d['refresh_token_id'];
  const family = familyOf(e);
  // the contract requires both: without them tokenwatch could only dead-letter the event
  if (presented === undefined || family === undefined) return { ok: false, skipped: 'unattributable' };
  return {
    ok: true,
    event: object([
      ...base('refresh'),
      ['outcome', outcome],
      ['reason', reason],
      ['family_id', family],
      ['token_id', presented],
      ['new_token_id', d['updated_refresh_token_id']],
      ['access_jti', d['token_id']],
      ['refresh_token_type', d['refresh_token_type']],
      ...(e.error !== undefined
        ? ([
            ['keycloak_error', e.error],
            ['keycloak_reason', d['reason']],
          ] as [string, string | undefined][])
        : []),
    ]),
  };
}

/** The contract's refresh reason for Keycloak's error and reason detail (as the listener's refreshReason). */
export function refreshReason(
  error: string | undefined,
  reason: string | undefined,
  realmRevokesRefreshTokens: boolean,
): string {
  const r = reason ?? '';
  if (r === 'Maximum allowed refresh token reuse exceeded') return 'reuse_detected';
  if (r === 'Stale token') return realmRevokesRefreshTokens ? 'reuse_detected' : 'revoked';
  if (
    r === 'Token is not active' ||
    r.includes('expired') ||
    error === 'expired_code' ||
    error === 'session_expired'
  )
    return 'expired';
  if (
    r.includes('ession not active') ||
    r.includes('session not found') ||
    r === 'User disabled' ||
    r.startsWith("Session doesn't have required client") ||
    r.includes('issued before the') ||
    r.includes('consent') ||
    r.includes('offline access not granted') ||
    error === 'user_session_not_found' ||
    error === 'user_disabled'
  )
    return 'revoked';
  if (
    r.startsWith('Invalid refresh token') ||
    r === 'Unmatching clients' ||
    r.includes('signature') ||
    r.startsWith('Invalid token') ||
    error === 'invalid_token_type'
  )
    return 'invalid';
  return 'other';
}
