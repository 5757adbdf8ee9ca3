/**
 * What the routes share: configuration, keys, tokens, state, the event emitters, and the test/demo
 * knobs (injected revocation faults, the log of revocation requests received).
 */

import type { AuthEvents } from '../../sdk/src/index.ts';
import type { AuthConfig } from './config.ts';
import type { KeyRing } from './keys.ts';
import type { AuthStore } from './store.ts';
import type { AccessTokens } from './tokens.ts';

export interface RevocationFaults {
  /** ok: normal; unavailable: 503 + Retry-After: 1; slow: answer after `slowMs` */
  revocations: 'ok' | 'unavailable' | 'slow';
  slowMs: number;
}

/** One request to POST /v1/revocations, as received (filled in when answered). */
export interface RevocationLogEntry {
  received_at_ms: number;
  idempotency_key: string | null;
  target: string | null;
  id: string | null;
  status_code: number;
  replayed: boolean;
}

export interface AuthContext {
  config: AuthConfig;
  keys: KeyRing;
  tokens: AccessTokens;
  store: AuthStore;
  /** what is reported to tokenwatch */
  events: AuthEvents;
  faults: RevocationFaults;
  revocationLog: RevocationLogEntry[];
}
