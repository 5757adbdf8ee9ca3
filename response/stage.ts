/**
 * The response stage: turns detections into decisions (revoke, dry run, suppressed, alert only,
 * duplicate) under the policy and the blast-radius guard, stores each decision in the outbox
 * before anything is attempted, hands the revocations to the revoker and the alerts to the
 * webhooks. `decide` is called by the detection stage before it stores and publishes its
 * detections (which then carry the decision) and before it commits offsets, so a crash at any
 * point repeats the decision for the same detection — which comes out the same.
 *
 * The guard: in Kafka mode one shared by every instance (shared-guard/), otherwise — or with
 * TOKENWATCH_KAFKA_GUARD_TOPIC empty — a ledger of this process's own. Either way the verdicts on a
 * batch's claims are had first, then handed to the pure decision.
 *
 * Suppressed revocations are retried (decide/retry.ts): every RETRY_EVERY_MS, while the guard has
 * room for their tenant, the oldest are re-claimed through the same guard and those allowed are
 * stored as pending and started.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Detection } from '../detectors/detection.ts';
import type { TenantThresholds } from '../detectors/thresholds.ts';
import type { Metrics } from '../ingest/metrics.ts';
import type { WriteBacklog } from '../platform/backlog.ts';
import type { RefusedRowSink } from '../platform/clickhouse/refusals.ts';
import type { Kafka, Producer } from '../platform/kafka/client.ts';
import { keepTrying } from '../platform/keep-trying.ts';
import type { Alert } from './alert.ts';
import { claimsFor, DecisionMemory, decide } from './decide/decider.ts';
import { type ClaimVerdict, GuardLedger, verdictsGuard } from './decide/ledger.ts';
import { retryClaims, retryDecisions, SuppressedQueue } from './decide/retry.ts';
import { ClickHouseNotices } from './notices/clickhouse-notices.ts';
import { KafkaNotices } from './notices/kafka-notices.ts';
import type { NoticeSink } from './notices/sink.ts';
import type { RevocationAdapter } from './revoke/adapter.ts';
import { AuthApiClient, clientCredentials, staticToken } from './revoke/auth-api.ts';
import { CircuitBreaker } from './revoke/breaker.ts';
import { KeycloakRevocationAdapter } from './revoke/keycloak/adapter.ts';
import { OPEN_STATUSES, RevocationLog, type RevocationRow } from './revoke/outbox.ts';
import { Revoker } from './revoke/revoker.ts';
import type { ResponseStageSettings } from './settings.ts';
import { SharedGuard } from './shared-guard/shared-guard.ts';
import { startWebhooks, type WebhookStage } from './webhooks/stage.ts';

export interface ResponseStage {
  /** Decides for each detection, stores the decisions, starts revocations and alerts; resolves with the detections carrying their decision. */
  decide(detections: Detection[]): Promise<Detection[]>;
  /** whether a guard shared by every instance is used (Kafka mode): then `ready` is a readiness check */
  readonly sharesGuard: boolean;
  /** false while the shared guard is not reading its topic (readiness) */
  ready(): boolean;
  close(): Promise<void>;
}

export interface ResponseDeps {
  clickhouse: ClickHouseClient;
  metrics: Metrics;
  log: Logger;
  /** with Kafka: revocation notices also go to the revocation hook topic */
  producer?: Producer;
  /** with Kafka: the client (the shared guard's topic) and the consumers' session timeout */
  kafka?: { client: Kafka; sessionTimeoutMs: number };
  /** where rows ClickHouse refuses go (dead letters) */
  refused: RefusedRowSink;
  /** writes being retried (readiness) */
  backlog?: WriteBacklog;
  /** the database of the outbox, the notices and the webhook log */
  database: string;
  /** rows older than this are dropped (notices still in force must outlive it) */
  retentionDays: number;
  /** the detectors' thresholds: how long each kind of revocation stays in force */
  thresholds: TenantThresholds;
  /** how long after a family's revocation its access tokens are looked up again (late events) */
  relookAfterMs: number;
  /** cap of the backoff between retries of a failed write */
  retryMaxBackoffMs: number;
}

/** How often suppressed revocations are looked at for a retry (cheap: no I/O while there is no room). */
const RETRY_EVERY_MS = 1000;
/** How far back the outbox is read at start: targets revoked before are remembered this long. */
const MEMORY_DAYS = 30;
/**
 * Where revocation notices go: ClickHouse in both modes (GET /v1/revocations serves it to pollers),
 * and the revocation hook topic as well in Kafka mode.
 */
function noticeSinks(config: ResponseStageSettings, deps: ResponseDeps): NoticeSink[] {
  const sinks: NoticeSink[] = [new ClickHouseNotices(deps.clickhouse, deps.database, deps.refused)];
  if (deps.producer !== undefined) sinks.push(new KafkaNotices(deps.producer, config.revocationsTopic));
  // A notice's row goes with the table's retention (counted from publication), in force or not.
  const t = deps.thresholds.for('');
  const longestS = Math.max(t.familyLifetimeS, t.sessionLifetimeS);
  if (deps.retentionDays * 86_400 < longestS)
    deps.log.warn(
      { retentionDays: deps.retentionDays, longestRevocationDays: longestS / 86_400 },
      'TOKENWATCH_RETENTION_DAYS is shorter than a family or session revocation lasts: notices still in force ' +
        'are dropped with their partition and GET /v1/revocations stops serving them; raise the retention',
    );
  return sinks;
}

/** The configured auth server adapter; none (contract without a URL): nothing is revoked, only recorded. */
function revocationAdapter(r: ResponseStageSettings): RevocationAdapter | undefined {
  if (r.adapter === 'keycloak') return new KeycloakRevocationAdapter(r.keycloak, r.keycloak.familyMode);
  if (r.revocationUrl === '') return undefined;
  return new AuthApiClient({
    url: r.revocationUrl,
    timeoutMs: r.timeoutMs,
    credentials:
      r.auth.tokenUrl !== ''
        ? clientCredentials({ ...r.auth, timeoutMs: r.timeoutMs })
        : staticToken(r.auth.token),
  });
}

export async function startResponse(
  config: ResponseStageSettings,
  deps: ResponseDeps,
): Promise<ResponseStage> {
  const { log, metrics, thresholds } = deps;
  const r = config;
  const outbox = new RevocationLog(deps.clickhouse, deps.database, deps.refused);
  const limits = {
    perTenantPerMinute: r.guard.perTenantPerMinute,
    totalPerMinute: r.guard.totalPerMinute,
    reservedPerTenant: r.guard.reservedPerTenant,
    windowMs: r.guard.windowMs,
  };
  const webhooks: WebhookStage = startWebhooks(config.webhooks, deps);
  let closing = false;
  const alert = (a: Alert) => webhooks.send(a);

  const api = revocationAdapter(r);
  if (api === undefined)
    log.warn(
      'TOKENWATCH_AUTH_REVOKE_URL is not set: revocations are decided and recorded as dry_run, never sent',
    );
  else
    log.info(
      {
        adapter: api.name,
        where: api.where,
        targets: Object.fromEntries(
          Object.entries(api.capabilities).map(([t, c]) => [t, `${c.how}: ${c.call}`]),
        ),
      },
      'revocations go to the auth server',
    );
  // This process's guard: it judges the claims when no guard is shared, and bounds linked tokens.
  const local = new GuardLedger(limits);
  const revoker =
    api === undefined
      ? undefined
      : new Revoker({
          api,
          log: outbox,
          hooks: noticeSinks(config, deps),
          breaker: new CircuitBreaker(r.breaker),
          retry: r.retry,
          accessTokenLookbackMs: thresholds.for('').tokenLifetimeS * 1000,
          accessTokenLifetimeMs: thresholds.for('').tokenLifetimeS * 1000,
          relookAfterMs: deps.relookAfterMs,
          admitLinked: (tenant, n) => local.admitLinked(tenant, n, Date.now()),
          alert,
          metrics,
          logger: log.child({ component: 'revoker' }),
          maxBackoffMs: deps.retryMaxBackoffMs,
          ...(deps.backlog !== undefined ? { backlog: deps.backlog } : {}),
        });

  // One guard for all instances (Kafka mode, revocations to make), or this process's own.
  const shared =
    deps.kafka !== undefined && deps.producer !== undefined && r.guard.topic !== '' && api !== undefined
      ? new SharedGuard({
          kafka: deps.kafka.client,
          producer: deps.producer,
          topic: r.guard.topic,
          limits,
          waitMs: r.guard.waitMs,
          sessionTimeoutMs: deps.kafka.sessionTimeoutMs,
          metrics,
          log: log.child({ component: 'shared-guard' }),
          retryMaxBackoffMs: deps.retryMaxBackoffMs,
        })
      : undefined;
  if (deps.kafka !== undefined && r.guard.topic === '' && api !== undefined)
    log.warn(
      'TOKENWATCH_KAFKA_GUARD_TOPIC is empty: this instance guards alone; with several instances the limits ' +
        'multiply and two of them may revoke the same target',
    );
  await shared?.start();

  // The outbox: what was decided before, and what is still to do.
  const memory = new DecisionMemory();
  const previous = await keepTrying(() => outbox.latest(MEMORY_DAYS), {
    what: 'the revocation outbox (reading)',
    log,
    closing: () => false,
    maxBackoffMs: deps.retryMaxBackoffMs,
  });
  const suppressed = new SuppressedQueue();
  let resumed = 0;
  for (const row of [...previous].sort((a, b) => a.decided_ms - b.decided_ms)) {
    memory.restore(row);
    if (r.guard.retrySuppressedMs > 0 && row.decided_ms > Date.now() - r.guard.retrySuppressedMs)
      metrics.guardRetries.inc({ outcome: 'dropped' }, suppressed.add(row));
    if (OPEN_STATUSES.has(row.status) && revoker !== undefined) {
      revoker.start(row);
      resumed++;
    }
  }
  if (resumed > 0) log.info({ resumed }, 'resuming revocations decided before the last stop');

  const expiresMs = (d: Detection, target: RevocationRow['target_kind']): number => {
    const t = thresholds.for(d.tenant);
    if (target === 'jti')
      return d.jti_expires_ms > 0 ? d.jti_expires_ms : d.detected_ms + t.tokenLifetimeS * 1000;
    if (target === 'session') return d.detected_ms + t.sessionLifetimeS * 1000;
    return d.detected_ms + t.familyLifetimeS * 1000;
  };

  const gauge = setInterval(() => {
    const tripped = (shared ?? local).tripped(Date.now());
    metrics.guardTripped.set({ scope: 'tenant' }, tripped.tenants);
    metrics.guardTripped.set({ scope: 'total' }, tripped.total ? 1 : 0);
    metrics.guardTripped.set({ scope: 'unavailable' }, shared !== undefined && !shared.answering ? 1 : 0);
  }, 5000);
  gauge.unref();

  // Suppressed revocations, re-claimed while the guard has room for their tenant (oldest first).
  let retrying = false;
  const retrySuppressed = async () => {
    const now = Date.now();
    const { due, expired } = suppressed.due(memory, now, r.guard.retrySuppressedMs, (tenant) =>
      shared !== undefined ? shared.room(tenant, now) : local.room(tenant, now),
    );
    if (expired.length > 0) metrics.guardRetries.inc({ outcome: 'expired' }, expired.length);
    if (due.length === 0) return;
    const claims = retryClaims(due);
    let verdicts = new Map<string, ClaimVerdict>();
    if (shared !== undefined) verdicts = await shared.claim(claims, now);
    else for (const c of claims) verdicts.set(c.detectionId, local.claim(c, now));
    const retried = retryDecisions(due, verdicts, memory, Date.now());
    await keepTrying(() => outbox.append(retried.rows), {
      what: 'retried revocations',
      log,
      closing: () => closing,
      maxBackoffMs: deps.retryMaxBackoffMs,
      onFailure: () => metrics.responseWriteFailures.inc({ sink: 'revocations' }),
      ...(deps.backlog !== undefined ? { backlog: deps.backlog } : {}),
    });
    for (const o of retried.outcomes) {
      metrics.guardRetries.inc({ outcome: o.outcome });
      if (o.outcome !== 'refused') suppressed.delete(o.revocationId);
    }
    for (const { row, named } of retried.start) {
      log.info(
        { tenant: row.tenant, revocation: row.revocation_id, suppressedForMs: Date.now() - row.decided_ms },
        'a suppressed revocation is retried: the guard has room again',
      );
      revoker?.start(row, named);
    }
    for (const a of retried.alerts) alert(a);
  };
  const retryTimer = setInterval(() => {
    if (retrying || closing || suppressed.size === 0 || revoker === undefined) return;
    retrying = true;
    retrySuppressed()
      .catch((err: Error) => log.warn({ err: err.message }, 'retrying suppressed revocations failed'))
      .finally(() => {
        retrying = false;
      });
  }, RETRY_EVERY_MS);
  retryTimer.unref();

  return {
    async decide(detections) {
      if (detections.length === 0) return detections;
      const base = {
        policy: r.policy,
        memory,
        canRevoke: api !== undefined,
        expiresMs,
        publicUrl: r.publicUrl,
      };
      // Around the pure decision: the verdicts on the claims it may make — from the shared
      // guard's log (waiting for them), or from this process's own ledger.
      const claims = claimsFor(detections, base);
      let verdicts = new Map<string, ClaimVerdict>();
      if (claims.length > 0 && shared !== undefined) verdicts = await shared.claim(claims, Date.now());
      else for (const c of claims) verdicts.set(c.detectionId, local.claim(c, Date.now()));
      const decisions = decide(detections, {
        ...base,
        guard: verdictsGuard(verdicts, claims),
        nowMs: Date.now(),
      });
      for (const { detector, decision } of decisions.counted)
        metrics.responseDecisions.inc({ detector, decision });
      for (const refusal of decisions.refusals) {
        metrics.guardSuppressed.inc({ scope: refusal.scope });
        if (!refusal.tripped) continue;
        metrics.guardTrips.inc({ scope: refusal.scope });
        if (refusal.scope === 'unavailable')
          log.error(
            { scope: refusal.scope, tenant: refusal.tenant, guardTopic: r.guard.topic },
            'blast-radius guard unavailable: revocations held back, findings become alerts',
          );
        else
          log.error(
            { scope: refusal.scope, tenant: refusal.tenant, limitPerMinute: refusal.limit },
            'blast-radius guard tripped: revocations held back, findings become alerts',
          );
      }
      // Stored before anything is attempted: a crash from here on resumes from the outbox.
      await keepTrying(() => outbox.append(decisions.rows), {
        what: 'revocation decisions',
        log,
        closing: () => closing,
        maxBackoffMs: deps.retryMaxBackoffMs,
        onFailure: () => metrics.responseWriteFailures.inc({ sink: 'revocations' }),
        ...(deps.backlog !== undefined ? { backlog: deps.backlog } : {}),
      });
      if (r.guard.retrySuppressedMs > 0 && revoker !== undefined)
        for (const row of decisions.rows)
          if (row.status === 'suppressed')
            metrics.guardRetries.inc({ outcome: 'dropped' }, suppressed.add(row));
      for (const { row, named } of decisions.start) revoker?.start(row, named);
      for (const a of decisions.alerts) alert(a);
      return decisions.detections;
    },

    sharesGuard: shared !== undefined,
    ready: () => shared === undefined || shared.ready,

    async close() {
      closing = true;
      clearInterval(gauge);
      clearInterval(retryTimer);
      await shared?.close();
      await revoker?.close(5000);
      await webhooks.close(10_000);
    },
  };
}
