/**
 * Carries out decided revocations: for each target (already stored as `pending`), finds the
 * access tokens linked to a family or session, publishes the revocation notices, and calls the auth
 * API until it answers for good — retrying with exponential backoff and jitter, honouring
 * `Retry-After`, holding calls while the circuit breaker is open — recording every attempt in the
 * `revocations` table. A target that cannot be revoked (4xx, or still failing after the give-up
 * period) pages on-call. A target the adapter declares denylist-only (e.g. one access token at
 * Keycloak) is not sent: it is recorded `denylist_only` — its notices are all that stops it. Closing stops retrying; what is left stays `pending`/`retrying` in the
 * table and is resumed by the next start.
 */
import type { Logger } from 'pino';
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import type { Metrics } from '../../ingest/metrics.ts';
import type { WriteBacklog } from '../../platform/backlog.ts';
import { type BackoffPolicy, backoffMs } from '../../platform/backoff.ts';
import { keepTrying } from '../../platform/keep-trying.ts';
import { cut } from '../../platform/text.ts';
import type { Alert } from '../alert.ts';
import type { NoticeSink } from '../notices/sink.ts';
import type { RevocationAdapter, RevocationOutcome, RevocationRequest } from './adapter.ts';
import type { CircuitBreaker } from './breaker.ts';
import type { RevocationLog, RevocationRow, RevocationStatus } from './outbox.ts';

export interface RevokerOptions {
  /** the auth server (the generic contract, or a real server's adapter) */
  api: RevocationAdapter;
  log: RevocationLog;
  /** where notices go (the ClickHouse table, the Kafka topic); each is published to on its own */
  hooks: NoticeSink[];
  breaker: CircuitBreaker;
  retry: BackoffPolicy & { giveUpAfterMs: number };
  /** how far back to look for access tokens linked to a family or session */
  accessTokenLookbackMs: number;
  /** an access token whose `exp` is unknown is denylisted this long after its issue */
  accessTokenLifetimeMs: number;
  /**
   * When to look for linked access tokens once more (events reach ClickHouse up to a batch wait
   * after the detectors see them): tokens found then are published too.
   */
  relookAfterMs: number;
  /**
   * How many of `n` linked access tokens of `tenant` may be denied now: each counts against the
   * blast-radius guard as one revocation (BlastRadiusGuard.admitUpTo); absent: all of them.
   */
  admitLinked?: (tenant: string, n: number) => number;
  alert: (a: Alert) => void;
  metrics: Metrics;
  logger: Logger;
  maxBackoffMs: number;
  /** writes being retried (readiness) */
  backlog?: WriteBacklog;
}

/** An access token to deny, until when. */
export interface LinkedJti {
  jti: string;
  expires_ms: number;
}

/** The union by jti, keeping the later expiry. */
function mergeJtis(a: LinkedJti[], b: LinkedJti[]): LinkedJti[] {
  const byJti = new Map<string, LinkedJti>();
  for (const l of [...a, ...b]) {
    const had = byJti.get(l.jti);
    if (had === undefined || l.expires_ms > had.expires_ms) byJti.set(l.jti, l);
  }
  return [...byJti.values()];
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class Revoker {
  readonly #o: RevokerOptions;
  readonly #running = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();

  constructor(options: RevokerOptions) {
    this.#o = options;
  }

  /** Targets being worked on now. */
  get open(): number {
    return this.#running.size;
  }

  /**
   * Starts (or resumes) the revocation of a stored `pending`/`retrying` target; once per target.
   * `knownJtis`: access tokens the detections already name (not yet in ClickHouse, perhaps).
   */
  start(decided: RevocationRow, knownJtis: LinkedJti[] = []) {
    if (this.#stop.signal.aborted || this.#running.has(decided.revocation_id)) return;
    const run = this.#run(decided, knownJtis)
      .catch((err: Error) => {
        if (!this.#stop.signal.aborted)
          this.#o.logger.error({ revocation: decided.revocation_id, err: err.message }, 'revocation stopped');
      })
      .finally(() => {
        this.#running.delete(decided.revocation_id);
        this.#o.metrics.revocationsOpen.set(this.#running.size);
      });
    this.#running.set(decided.revocation_id, run);
    this.#o.metrics.revocationsOpen.set(this.#running.size);
  }

  async #run(decided: RevocationRow, knownJtis: LinkedJti[]): Promise<void> {
    const { logger } = this.#o;
    const merged = mergeJtis(knownJtis, await this.#linked(decided));
    // Counted against the guard one by one, on the first attempt (the named ones first).
    const linked = decided.attempt === 0 ? this.#admitted(decided, merged) : merged;
    const request = this.#request(decided, linked);
    // Verifiers hear of it now, whatever the auth server says and however long it takes.
    if (decided.attempt === 0 && this.#o.hooks.length > 0) {
      void this.#publish(
        decided,
        [this.#notice(decided, decided.target_kind, decided.target_id, decided.expires_ms)].concat(
          linked.map((l) => this.#jtiNotice(decided, l)),
        ),
      );
      if (decided.target_kind === 'family' || decided.target_kind === 'session')
        this.#relook(decided, linked);
    }

    const signal = this.#stop.signal;
    for (let attempt = decided.attempt + 1; !signal.aborted; attempt++) {
      for (
        let wait = this.#o.breaker.acquire(Date.now());
        wait > 0;
        wait = this.#o.breaker.acquire(Date.now())
      ) {
        this.#o.metrics.authApiBreakerOpen.set(1);
        await sleep(wait, signal);
        if (signal.aborted) return;
      }
      this.#o.metrics.authApiBreakerOpen.set(0);
      const outcome = await this.#o.api.revoke(request, {
        idempotencyKey: `tokenwatch-${decided.revocation_id}`,
        earlierAttempts: attempt - 1,
      });
      const called = outcome.kind !== 'denylist_only' || outcome.status !== 0;
      if (outcome.kind === 'retry') this.#o.breaker.failure(Date.now());
      else if (called) this.#o.breaker.success();
      if (called)
        this.#o.metrics.revocationAttempts.inc({
          target: decided.target_kind,
          outcome: outcome.kind === 'retry' ? 'retrying' : outcome.kind,
        });
      if (outcome.status !== 0) this.#o.metrics.revocationCallSeconds.observe(outcome.latencyMs / 1000);

      const givingUp =
        outcome.kind === 'retry' && Date.now() - decided.decided_ms >= this.#o.retry.giveUpAfterMs;
      const status: RevocationStatus =
        outcome.kind === 'retry' ? (givingUp ? 'failed' : 'retrying') : outcome.kind;
      const error =
        givingUp && outcome.kind === 'retry'
          ? `gave up after ${Math.round(this.#o.retry.giveUpAfterMs / 1000)} s: ${outcome.detail}`
          : outcome.kind === 'done'
            ? ''
            : outcome.kind === 'denylist_only'
              ? `${this.#o.api.name} cannot revoke a ${decided.target_kind} (${outcome.detail}): only the verifiers' denylists stop it`
              : outcome.detail;
      await this.#record(decided, status, attempt, outcome, error);

      if (status === 'retrying') {
        const delay = Math.min(
          this.#o.retry.maxMs,
          Math.max(
            backoffMs(this.#o.retry, attempt),
            outcome.kind === 'retry' ? (outcome.retryAfterMs ?? 0) : 0,
          ),
        );
        logger.warn(
          {
            revocation: decided.revocation_id,
            target: decided.target_kind,
            attempt,
            retryInMs: delay,
            error,
          },
          'revocation not acknowledged; retrying',
        );
        await sleep(delay, signal);
        continue;
      }
      this.#finish(decided, status, attempt, outcome, error);
      return;
    }
  }

  #finish(
    decided: RevocationRow,
    status: RevocationStatus,
    attempt: number,
    outcome: RevocationOutcome,
    error: string,
  ) {
    const { logger, metrics } = this.#o;
    metrics.revocations.inc({ target: decided.target_kind, status });
    const facts = {
      revocation: decided.revocation_id,
      tenant: decided.tenant,
      subject: decided.subject,
      target: decided.target_kind,
      id: decided.target_id,
      attempts: attempt,
      httpStatus: outcome.status,
    };
    if (status === 'done') {
      const seconds = Math.max(0, Date.now() - decided.detected_ms) / 1000;
      metrics.timeToRevoke.observe(seconds);
      logger.info({ ...facts, secondsSinceMisuse: seconds }, 'revoked at the auth server');
      return;
    }
    if (status === 'denylist_only') {
      logger.warn(
        { ...facts, adapter: this.#o.api.name, error },
        'not revocable at the auth server: recorded as denylist_only (the revocation notices stop it at the verifiers)',
      );
      return;
    }
    if (status === 'not_found') {
      logger.warn(
        { ...facts, answer: outcome.detail },
        'the auth server does not know the target; nothing revoked',
      );
      return;
    }
    logger.error({ ...facts, error }, 'revocation failed');
    this.#o.alert({
      kind: 'revocation_failed',
      group_key: `revocation_failed:${decided.tenant}`,
      tenant: decided.tenant,
      subject: decided.subject,
      detector: decided.detector,
      severity: 'critical',
      title: `Revocation failed — ${decided.subject}: ${decided.target_kind} ${decided.target_id} is NOT revoked`,
      text:
        `The auth API answered ${outcome.status === 0 ? 'nothing' : outcome.status} after ${attempt} attempt(s): ${error}\n` +
        `Revoke it by hand, then check the auth server (${this.#o.api.name} at ${this.#o.api.where}) and its settings (docs/auth-servers.md, docs/response.md).`,
      fields: {
        revocation_id: decided.revocation_id,
        detection_id: decided.detection_id,
        target: decided.target_kind,
        target_id: decided.target_id,
        http_status: outcome.status,
      },
      time_ms: Date.now(),
    });
  }

  async #record(
    decided: RevocationRow,
    status: RevocationStatus,
    attempt: number,
    outcome: RevocationOutcome,
    error: string,
  ) {
    const row: RevocationRow = {
      ...decided,
      status,
      attempt,
      http_status: outcome.status,
      latency_ms: outcome.latencyMs,
      error: cut(error, 1000),
      time_ms: Date.now(),
    };
    await keepTrying(() => this.#o.log.append([row]), {
      what: 'a revocation attempt',
      log: this.#o.logger,
      closing: () => this.#stop.signal.aborted,
      maxBackoffMs: this.#o.maxBackoffMs,
      onFailure: () => this.#o.metrics.responseWriteFailures.inc({ sink: 'revocations' }),
      ...(this.#o.backlog !== undefined ? { backlog: this.#o.backlog } : {}),
    });
  }

  /** The linked access tokens the guard admits (the first ones); the rest are logged and left out. */
  #admitted(d: RevocationRow, linked: LinkedJti[]): LinkedJti[] {
    const n = this.#o.admitLinked?.(d.tenant, linked.length) ?? linked.length;
    if (n >= linked.length) return linked;
    this.#o.logger.warn(
      { revocation: d.revocation_id, tenant: d.tenant, linked: linked.length, admitted: n },
      'blast-radius guard: linked access tokens past the budget are not denied (the family or session is revoked; check the findings)',
    );
    return linked.slice(0, n);
  }

  /** Access tokens issued with a family or session, from the stored events (none for other targets). */
  async #linked(d: RevocationRow): Promise<LinkedJti[]> {
    if (d.target_kind !== 'family' && d.target_kind !== 'session') return [];
    try {
      const found = await this.#o.log.linkedAccessTokens(
        d.tenant,
        d.subject,
        d.target_kind,
        d.target_id,
        d.detected_ms - this.#o.accessTokenLookbackMs,
      );
      return found.map((l) => ({
        jti: l.jti,
        expires_ms: l.exp_s > 0 ? l.exp_s * 1000 : l.issued_ms + this.#o.accessTokenLifetimeMs,
      }));
    } catch (err) {
      this.#o.logger.warn(
        { revocation: d.revocation_id, err: (err as Error).message },
        'could not look up the access tokens linked to the target; going on without them',
      );
      return [];
    }
  }

  /** Looks for linked access tokens again once the latest events are stored; publishes the new ones. */
  #relook(d: RevocationRow, published: LinkedJti[]) {
    const timer = setTimeout(async () => {
      if (this.#stop.signal.aborted) return;
      const seen = new Set(published.map((p) => p.jti));
      const fresh = this.#admitted(
        d,
        (await this.#linked(d)).filter((l) => !seen.has(l.jti)),
      );
      if (fresh.length > 0)
        await this.#publish(
          d,
          fresh.map((l) => this.#jtiNotice(d, l)),
        );
    }, this.#o.relookAfterMs);
    timer.unref();
  }

  /** The request body: the target plus, for a family or session, its linked access tokens. */
  #request(d: RevocationRow, linked: LinkedJti[]): RevocationRequest {
    return {
      target: d.target_kind,
      id: d.target_id,
      tenant: d.tenant,
      subject: d.subject,
      expires_at: new Date(d.expires_ms).toISOString(),
      access_jtis: linked.map((l) => ({ jti: l.jti, expires_at: new Date(l.expires_ms).toISOString() })),
      reason: d.reason,
      detection_id: d.detection_id,
      detector: d.detector,
      severity: d.severity,
    };
  }

  #notice(
    d: RevocationRow,
    target: RevocationNotice['target'],
    id: string,
    expiresMs: number,
  ): RevocationNotice {
    return {
      version: 1,
      revocation_id: d.revocation_id,
      tenant: d.tenant,
      subject: d.subject,
      target,
      id,
      expires_at_ms: expiresMs,
      revoked_at_ms: d.decided_ms,
      detection_id: d.detection_id,
      detector: d.detector,
    };
  }

  #jtiNotice(d: RevocationRow, l: LinkedJti): RevocationNotice {
    return {
      ...this.#notice(d, 'jti', l.jti, l.expires_ms),
      via: { target: d.target_kind, id: d.target_id },
    };
  }

  /**
   * Publishes to every sink at once, each retried on its own: Kafka being down neither delays the
   * notices pollers read from ClickHouse nor stores them there twice, and the other way round.
   */
  async #publish(d: RevocationRow, notices: RevocationNotice[]) {
    await Promise.all(this.#o.hooks.map((hooks) => this.#publishTo(hooks, d, notices)));
  }

  async #publishTo(hooks: NoticeSink, d: RevocationRow, notices: RevocationNotice[]) {
    const { metrics } = this.#o;
    try {
      await keepTrying(() => hooks.publish(notices), {
        what: `revocation notices (${hooks.sink})`,
        log: this.#o.logger,
        closing: () => this.#stop.signal.aborted,
        maxBackoffMs: this.#o.maxBackoffMs,
        onFailure: () => metrics.responseWriteFailures.inc({ sink: hooks.sink }),
        ...(this.#o.backlog !== undefined ? { backlog: this.#o.backlog } : {}),
      });
      for (const n of notices) metrics.revocationHooksPublished.inc({ sink: hooks.sink, target: n.target });
    } catch (err) {
      this.#o.logger.error(
        { revocation: d.revocation_id, sink: hooks.sink, err: (err as Error).message },
        'revocation notices not published before shutdown',
      );
    }
  }

  /** Stops retrying; waits up to `timeoutMs` for calls in flight to be recorded. */
  async close(timeoutMs: number): Promise<void> {
    this.#stop.abort();
    const timer = new Promise((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.#running.values()]), timer]);
  }
}
