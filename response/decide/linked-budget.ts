/**
 * The blast-radius guard's budget for linked access tokens (pure over the guard it is handed): a
 * family or session revocation also denies the access tokens the auth server issued with it, and each
 * counts as one revocation — a framing cannot turn one guarded revocation into a thousand.
 */
import type { BlastRadiusGuard } from './guard.ts';

/** How many of `n` linked access tokens the guard admits now (the first ones), each counted as one revocation. */
export function admitLinked(guard: BlastRadiusGuard, tenant: string, n: number, nowMs: number): number {
  if (n <= 0) return 0;
  if (guard.allow(tenant, nowMs, n).allowed) return n;
  let admitted = 0;
  while (admitted < n && guard.allow(tenant, nowMs, 1).allowed) admitted++;
  return admitted;
}
