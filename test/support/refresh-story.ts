/**
 * A refresh-token story the detector tests tell: a login and a rotation from Berlin on the user's
 * laptop, then the rotated token replayed from São Paulo by an attacker (refresh_replay).
 */
import { TENANT } from './harness.ts';

const BERLIN = '85.214.132.117';
const SAO_PAULO = '200.147.67.142';

/** A login (issuance) and a rotation from Berlin on the user's laptop. */
export function login(subject: string, prefix: string, atMs: number) {
  const base = { tenant: TENANT, source: 'auth', subject, client_id: 'web', family_id: `fam-${prefix}` };
  return [
    {
      ...base,
      event_id: `${prefix}-issue`,
      type: 'issuance',
      time: atMs - 60_000,
      token_id: `${prefix}-rt0`,
      ip: BERLIN,
      device_id: 'laptop',
    },
    {
      ...base,
      event_id: `${prefix}-rotate`,
      type: 'refresh',
      time: atMs,
      outcome: 'rotated',
      reason: 'ok',
      token_id: `${prefix}-rt0`,
      new_token_id: `${prefix}-rt1`,
      ip: BERLIN,
      device_id: 'laptop',
      user_agent: 'Firefox/128.0',
    },
  ];
}

/** The attacker presents the rotated token from São Paulo. */
export function replay(subject: string, prefix: string, atMs: number) {
  return {
    tenant: TENANT,
    source: 'auth',
    subject,
    client_id: 'web',
    family_id: `fam-${prefix}`,
    event_id: `${prefix}-replay-${atMs}`,
    type: 'refresh',
    time: atMs,
    outcome: 'rotated',
    reason: 'ok',
    token_id: `${prefix}-rt0`,
    new_token_id: `${prefix}-rtx-${atMs}`,
    ip: SAO_PAULO,
    device_id: 'attacker',
    user_agent: 'curl/8.5',
  };
}
