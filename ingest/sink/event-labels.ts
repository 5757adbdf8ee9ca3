/**
 * The labels of `tokenwatch_events_total`, from closed sets only. Verification and refresh outcomes
 * and reasons are closed by the contract; issuance and revocation carry free text there (a grant
 * type, why a token was revoked), which would let one request create a series per value — those
 * count as `other` unless they are one of the few values known here. The raw values stay in ClickHouse.
 */
import { EVENT_TYPES, REFRESH_REASONS, VERIFICATION_REASONS } from '../../contract/event-v1.ts';

const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);
const OUTCOMES: Record<string, ReadonlySet<string>> = {
  verification: new Set(['accepted', 'rejected']),
  refresh: new Set(['rotated', 'rejected']),
  issuance: new Set(['', 'ok']),
  revocation: new Set(['', 'ok']),
};
const REASONS: Record<string, ReadonlySet<string>> = {
  verification: new Set(VERIFICATION_REASONS),
  refresh: new Set(REFRESH_REASONS),
  // grant types (RFC 6749, 8628) the reference auth server and common servers report
  issuance: new Set([
    '',
    'password',
    'authorization_code',
    'refresh_token',
    'client_credentials',
    'device_code',
  ]),
  // what auth servers commonly say, and what tokenwatch's own revocations say
  revocation: new Set([
    '',
    'logout',
    'rfc7009',
    'reuse_detected',
    'admin',
    'expired',
    'tokenwatch',
    'replay',
  ]),
};

/** `type\0outcome\0reason`, each value from its closed set (else `other`). */
export function eventLabels(type: string, outcome: string, reason: string): string {
  const t = TYPES.has(type) ? type : 'other';
  const o = OUTCOMES[t]?.has(outcome) === true ? outcome : 'other';
  const r = REASONS[t]?.has(reason) === true ? reason : 'other';
  return `${t}\u0000${o}\u0000${r}`;
}
