/**
 * What the revoker asks of an auth server, whichever it is: one interface behind which the generic
 * revocation contract (auth-api.ts) and the adapters for real auth servers (keycloak/) sit, chosen by
 * TOKENWATCH_REVOKE_ADAPTER. Each adapter declares, per target, whether the server can revoke it and
 * by which call — or whether only the verifiers' denylists can stop it (the revocation notices
 * tokenwatch publishes anyway); such a target is recorded as `denylist_only`, never as done.
 */
import type {
  RevocationRequest as ContractRequest,
  RevocationTarget,
} from '../../contract/revocation-api-v1.ts';

/** What the revoker hands an adapter: the contract's request body, every field present. */
export type RevocationRequest = Required<Omit<ContractRequest, 'access_jtis'>> & {
  access_jtis: NonNullable<ContractRequest['access_jtis']>;
};

export type RevocationOutcome =
  /** revoked now or before */
  | { kind: 'done'; status: number; latencyMs: number; detail: string }
  /** the auth server does not know the target (nothing to revoke) */
  | { kind: 'not_found'; status: number; latencyMs: number; detail: string }
  /** retrying would give the same answer */
  | { kind: 'failed'; status: number; latencyMs: number; detail: string }
  /** 408, 425, 429, 5xx, timeout, network error, no token: try again later */
  | { kind: 'retry'; status: number; latencyMs: number; detail: string; retryAfterMs?: number }
  /** the server has no way to revoke this target: only the verifiers' denylists stop it (the adapter
   * knew without a call: status 0; or the server answered so: `{"status":"denylist_only"}`) */
  | { kind: 'denylist_only'; status: number; latencyMs: number; detail: string };

/** How an adapter handles one kind of target. */
export interface TargetCapability {
  /** `server`: a call revokes it at the auth server; `denylist_only`: no call can */
  how: 'server' | 'denylist_only';
  /** the call made (or why there is none), for the docs and the start-up log */
  call: string;
}

/** One attempt's context: the same key for every attempt of one revocation. */
export interface AttemptContext {
  idempotencyKey: string;
  /** attempts of this revocation made before this one (0 on the first; counted across restarts) */
  earlierAttempts: number;
}

export interface RevocationAdapter {
  /** the adapter's name, as TOKENWATCH_REVOKE_ADAPTER names it */
  readonly name: string;
  /** where it revokes, for logs and alerts (a URL without credentials) */
  readonly where: string;
  readonly capabilities: Readonly<Record<RevocationTarget, TargetCapability>>;
  /** One attempt; never throws (every failure is an outcome). */
  revoke(request: RevocationRequest, context: AttemptContext): Promise<RevocationOutcome>;
}

export const REVOKE_ADAPTERS = ['contract', 'keycloak'] as const;
export type RevokeAdapterName = (typeof REVOKE_ADAPTERS)[number];
