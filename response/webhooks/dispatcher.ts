/**
 * The alert webhook dispatcher: routes each alert to the targets that want it, groups it there by
 * its group key (see groups.ts), flushes due groups on one timer per target, folds a storm of
 * groups into one summary (see storm.ts) and delivers each message with retries (see
 * delivery.ts). `send` never blocks and never throws; timers are unref'd, so a dispatcher never
 * holds the process open; `close` flushes what is pending and waits for deliveries in flight.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AddressGuard } from '../../platform/http/address-guard.ts';
import type { Alert } from '../alert.ts';
import { type DeliveryRecord, deliver, type RetryPolicy } from './delivery.ts';
import type { WebhookMessage } from './formats.ts';
import { GroupTable } from './groups.ts';
import { StormFold } from './storm.ts';
import { matches, type WebhookTarget } from './targets.ts';

export interface WebhookDispatcherOptions {
  targets: readonly WebhookTarget[];
  /** how long a new group waits for the rest of its incident (ms); default 2000 */
  groupWaitMs?: number;
  /** at most one message per group per this long (ms); default 60000 */
  groupIntervalMs?: number;
  /** more groups than this due at one flush of a target are sent as one storm summary; default 20 */
  maxGroupsPerFlush?: number;
  /** alerts kept per group; the rest are counted as omitted; default 100 */
  maxAlertsPerGroup?: number;
  /** groups kept per target; beyond, the oldest is dropped (and logged); default 10000 */
  maxGroupsPerTarget?: number;
  /** deadline of one HTTP attempt (ms); default 5000 */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  guard: AddressGuard;
  log: Logger;
  /** every delivery attempt, for storage and metrics */
  onDelivery?: (record: DeliveryRecord) => void;
}

interface TargetState {
  target: WebhookTarget;
  groups: GroupTable;
  storm: StormFold;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

export class WebhookDispatcher {
  private readonly states: TargetState[];
  private readonly groupWaitMs: number;
  private readonly groupIntervalMs: number;
  private readonly maxGroupsPerFlush: number;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly guard: AddressGuard;
  private readonly log: Logger;
  private readonly onDelivery: (record: DeliveryRecord) => void;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** aborted when `close` stops waiting: deliveries then stop retrying */
  private readonly abort = new AbortController();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: WebhookDispatcherOptions) {
    this.groupWaitMs = options.groupWaitMs ?? 2000;
    this.groupIntervalMs = options.groupIntervalMs ?? 60_000;
    this.maxGroupsPerFlush = options.maxGroupsPerFlush ?? 20;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.retry = { baseMs: 500, maxMs: 30_000, maxAttempts: 8, ...options.retry };
    this.guard = options.guard;
    this.log = options.log;
    this.onDelivery = options.onDelivery ?? (() => {});
    const limits = {
      groupWaitMs: this.groupWaitMs,
      groupIntervalMs: this.groupIntervalMs,
      maxAlertsPerGroup: options.maxAlertsPerGroup ?? 100,
      maxGroups: options.maxGroupsPerTarget ?? 10_000,
    };
    this.states = options.targets.map((target) => ({
      target,
      groups: new GroupTable(limits),
      storm: new StormFold(),
      timer: undefined,
      timerAt: Number.POSITIVE_INFINITY,
    }));
  }

  /** Queues `alert` for every target that wants it; ignored once `close` was called. */
  send(alert: Alert): void {
    if (this.closed) return;
    const now = Date.now();
    for (const state of this.states) {
      if (!matches(state.target, alert)) continue;
      const dueAt = state.groups.add(alert, now);
      if (dueAt !== undefined) this.schedule(state, dueAt);
    }
  }

  /**
   * Flushes every pending group now and waits up to `timeoutMs` for the deliveries in flight,
   * retries included; deliveries still retrying then make one last attempt and report `failed`.
   */
  close(timeoutMs = 10_000): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = this.drain(timeoutMs);
    }
    return this.closing;
  }

  private async drain(timeoutMs: number): Promise<void> {
    for (const state of this.states) {
      clearTimeout(state.timer);
      this.flush(state, Number.POSITIVE_INFINITY);
    }
    const pending = [...this.inFlight];
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    // not unref'd: a caller awaiting close wants the process kept alive for up to timeoutMs
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const done = Promise.allSettled(pending).then(() => false);
    if (await Promise.race([done, timedOut])) {
      this.log.warn(
        { deliveries: this.inFlight.size, timeout_ms: timeoutMs },
        'webhook dispatcher closed with deliveries still in flight; they stop retrying',
      );
      this.abort.abort();
    }
    clearTimeout(timer);
  }

  /** Runs the target's flush at `atMs` unless one is due earlier already. */
  private schedule(state: TargetState, atMs: number): void {
    if (state.timer !== undefined && state.timerAt <= atMs) return;
    clearTimeout(state.timer);
    state.timerAt = atMs;
    state.timer = setTimeout(() => this.flush(state, this.groupWaitMs / 4), Math.max(0, atMs - Date.now()));
    state.timer.unref();
  }

  /**
   * Sends the target's groups due by now + `earlyMs`. Taking groups due a little later too (a
   * quarter of the group wait) makes groups that become due about the same time one flush, so a
   * storm is recognized as one; on close, `earlyMs` is infinite and everything pending goes.
   */
  private flush(state: TargetState, earlyMs: number): void {
    state.timer = undefined;
    state.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const until = now + earlyMs;
    const taken = state.groups.takeDue(now, until);
    // The response stage's own pages (guard tripped, revocation failed) are never folded into a
    // storm summary: they are what on-call must see during one.
    const pages = taken.filter((b) => b.alerts.some((a) => a.kind !== 'detection'));
    for (const batch of pages) this.dispatch(state, { delivery_id: randomUUID(), ...batch });
    const due = pages.length === 0 ? taken : taken.filter((b) => !pages.includes(b));
    if (due.length > this.maxGroupsPerFlush || (due.length > 0 && state.storm.pending)) {
      if (!state.storm.pending) {
        this.log.warn(
          { target: state.target.name, groups: due.length, max_groups_per_flush: this.maxGroupsPerFlush },
          'webhook alert storm: folding the groups due into one summary message',
        );
      }
      for (const batch of due) state.storm.add(batch, now, this.groupIntervalMs);
    } else {
      for (const batch of due) this.dispatch(state, { delivery_id: randomUUID(), ...batch });
    }
    if (state.storm.pending && state.storm.dueAt <= until) {
      this.dispatch(state, state.storm.take(randomUUID(), now));
    }
    state.groups.prune(now);
    const dropped = state.groups.takeDropped();
    if (dropped.groups > 0) {
      this.log.warn(
        { target: state.target.name, dropped_groups: dropped.groups, dropped_alerts: dropped.alerts },
        'webhook target holds too many groups: the oldest were dropped; raise maxGroupsPerTarget or ' +
          'narrow the target (minSeverity, detectors, kinds)',
      );
    }
    if (this.closed) return;
    const next = Math.min(
      state.groups.nextDueAt() ?? Number.POSITIVE_INFINITY,
      state.storm.pending ? state.storm.dueAt : Number.POSITIVE_INFINITY,
    );
    if (Number.isFinite(next)) this.schedule(state, next);
  }

  private dispatch(state: TargetState, message: WebhookMessage): void {
    const delivery = deliver(state.target, message, {
      timeoutMs: this.timeoutMs,
      retry: this.retry,
      guard: this.guard,
      log: this.log,
      onDelivery: this.onDelivery,
      signal: this.abort.signal,
    })
      .catch((err: unknown) => {
        this.log.error({ err, target: state.target.name }, 'webhook delivery crashed');
      })
      .finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
  }
}
