/**
 * The Keycloak event poller's settings (`tokenwatch keycloak-poll`): where it reports (tokenwatch's
 * `POST /v1/events`, with a key of the auth-server role), where its cursor is kept, how often and
 * how much it reads. Keycloak itself is reached with the Keycloak connection settings
 * (platform/keycloak/settings.ts; the service account needs view-events).
 */
import { setting } from '../../../platform/settings.ts';

const httpUrl = (v: string) => (/^https?:\/\/[^/]+/.test(v) ? undefined : 'must be an http(s) URL');

export const KEYCLOAK_POLL_SETTINGS = {
  reportUrl: setting.str(
    'TOKENWATCH_KEYCLOAK_POLL_REPORT_URL',
    'http://127.0.0.1:8080',
    'tokenwatch’s base URL the poller reports to (`/v1/events` is appended)',
    { check: httpUrl },
  ),
  apiKey: setting.secret(
    'TOKENWATCH_KEYCLOAK_POLL_API_KEY',
    'the poller’s key of TOKENWATCH_API_KEYS (an auth-server reporter: it reports issuance, refresh and revocation facts)',
  ),
  tenant: setting.str('TOKENWATCH_KEYCLOAK_POLL_TENANT', 'default', 'the tenant of every event it reports'),
  stateFile: setting.str(
    'TOKENWATCH_KEYCLOAK_POLL_STATE_FILE',
    'keycloak-poll-cursor.json',
    'where the cursor is kept (written after each accepted batch, atomically); one file per realm polled',
  ),
  intervalMs: setting.int(
    'TOKENWATCH_KEYCLOAK_POLL_INTERVAL_MS',
    5000,
    100,
    3_600_000,
    'pause between polls (events reach tokenwatch this much later than with the listener)',
  ),
  pageSize: setting.int(
    'TOKENWATCH_KEYCLOAK_POLL_PAGE_SIZE',
    500,
    1,
    10_000,
    'events per `GET /events` page (`max`)',
  ),
  overlapMs: setting.int(
    'TOKENWATCH_KEYCLOAK_POLL_OVERLAP_MS',
    60_000,
    0,
    86_400_000,
    'each poll reads again this far before the newest event seen (late commits, clock skew); repeats are dropped by event id',
  ),
  backfillSeconds: setting.int(
    'TOKENWATCH_KEYCLOAK_POLL_BACKFILL_SECONDS',
    3600,
    0,
    366 * 86_400,
    'without a cursor (first start), how far back it reads (at most what the realm’s events expiration kept)',
  ),
  realmRevokesRefreshTokens: setting.bool(
    'TOKENWATCH_KEYCLOAK_REVOKES_REFRESH_TOKENS',
    false,
    'set as the realm’s `revokeRefreshToken`: then a "Stale token" refresh error is reported as `reuse_detected`, otherwise as `revoked` (the listener reads it from the realm)',
  ),
};
