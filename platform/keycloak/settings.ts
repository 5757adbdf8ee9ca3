/**
 * How tokenwatch reaches a Keycloak's admin REST API: its base URL, the realm whose users and
 * events it watches, and the confidential client whose service account it acts as (client
 * credentials; realm-management roles manage-users for revocations, view-events for the event
 * poller). Read by the Keycloak revocation adapter (response/) and the Keycloak event poller (ingest/).
 */

import type { Env } from '../env.ts';
import { readTable, setting, type ValuesOf } from '../settings.ts';

const httpUrl = (v: string) =>
  /^https?:\/\/[^/]+/.test(v)
    ? undefined
    : 'must be an http(s) URL (Keycloak’s base, without /admin or /realms)';

export const KEYCLOAK_SETTINGS = {
  url: setting.str(
    'TOKENWATCH_KEYCLOAK_URL',
    '',
    'Keycloak’s base URL, e.g. `https://sso.example.com` (with its `http-relative-path`, if any: `…/auth`)',
    { check: httpUrl },
  ),
  realm: setting.str(
    'TOKENWATCH_KEYCLOAK_REALM',
    '',
    'the realm whose sessions tokenwatch revokes and whose events it polls',
  ),
  clientId: setting.str(
    'TOKENWATCH_KEYCLOAK_CLIENT_ID',
    'tokenwatch',
    'the realm’s confidential client with a service account (realm-management roles `manage-users`, `view-events`)',
  ),
  clientSecret: setting.secret('TOKENWATCH_KEYCLOAK_CLIENT_SECRET', 'its client secret'),
  timeoutMs: setting.int(
    'TOKENWATCH_KEYCLOAK_TIMEOUT_MS',
    5000,
    50,
    600_000,
    'deadline of one admin API call (and of the token request)',
  ),
};

export type KeycloakSettings = ValuesOf<typeof KEYCLOAK_SETTINGS>;

/** Reads the section; `needed` names who needs it (problems then say so when it is incomplete). */
export function readKeycloakSettings(env: Env, problems: string[], needed: string[]): KeycloakSettings {
  const s = readTable(KEYCLOAK_SETTINGS, env, problems);
  if (needed.length > 0) {
    const missing = [
      s.url === '' ? 'TOKENWATCH_KEYCLOAK_URL' : '',
      s.realm === '' ? 'TOKENWATCH_KEYCLOAK_REALM' : '',
      s.clientSecret === '' ? 'TOKENWATCH_KEYCLOAK_CLIENT_SECRET' : '',
    ].filter((m) => m !== '');
    if (missing.length > 0)
      problems.push(
        `${needed.join(' and ')} needs ${missing.join(', ')} ` +
          '(Keycloak’s base URL, the realm, and the secret of the service-account client TOKENWATCH_KEYCLOAK_CLIENT_ID)',
      );
  }
  return s;
}
