/**
 * The Keycloak revocation adapter: each target through the admin REST call calls.ts plans for it
 * (as the realm's tokenwatch service account, platform/keycloak/admin-client.ts), the answer
 * classified by calls.ts; a jti is never sent (denylist notice only). Retries, backoff and the
 * circuit breaker are the revoker's, as for the generic contract.
 */
import { retryAfterMs } from '../../../platform/backoff.ts';
import { HttpRequestError } from '../../../platform/http/client.ts';
import { KeycloakAdminClient } from '../../../platform/keycloak/admin-client.ts';
import type { KeycloakSettings } from '../../../platform/keycloak/settings.ts';
import type {
  AttemptContext,
  RevocationAdapter,
  RevocationOutcome,
  RevocationRequest,
  TargetCapability,
} from '../adapter.ts';
import {
  classifyKeycloakAnswer,
  type FamilyMode,
  keycloakCapabilities,
  planKeycloakRevocation,
} from './calls.ts';

export class KeycloakRevocationAdapter implements RevocationAdapter {
  readonly name = 'keycloak';
  readonly where: string;
  readonly capabilities: Readonly<Record<RevocationRequest['target'], TargetCapability>>;
  readonly #admin: KeycloakAdminClient;
  readonly #familyMode: FamilyMode;

  constructor(settings: KeycloakSettings, familyMode: FamilyMode) {
    this.#admin = new KeycloakAdminClient(settings);
    this.#familyMode = familyMode;
    this.where = this.#admin.base;
    this.capabilities = keycloakCapabilities(familyMode);
  }

  async revoke(request: RevocationRequest, context: AttemptContext): Promise<RevocationOutcome> {
    const plan = planKeycloakRevocation(request, this.#familyMode);
    if (plan.kind === 'denylist_only')
      return { kind: 'denylist_only', status: 0, latencyMs: 0, detail: plan.why };
    if (plan.kind === 'invalid') return { kind: 'failed', status: 0, latencyMs: 0, detail: plan.why };
    const { call } = plan;
    try {
      const res = await this.#admin.call(call.method, call.path);
      const after = retryAfterMs(headerText(res.headers['retry-after']), Date.now());
      return classifyKeycloakAnswer({
        status: res.status,
        body: res.body,
        latencyMs: res.latencyMs,
        earlierAttempts: context.earlierAttempts,
        call,
        retryAfterMs: after,
      });
    } catch (err) {
      // no answer, or no token (the token endpoint down or refusing): try again later
      return classifyKeycloakAnswer({
        status: 0,
        body: '',
        latencyMs: err instanceof HttpRequestError ? err.latencyMs : 0,
        earlierAttempts: context.earlierAttempts,
        call,
        error: (err as Error).message,
      });
    }
  }
}

const headerText = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);
