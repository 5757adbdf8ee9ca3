/**
 * One target's alert groups, with the timing rules of Alertmanager's grouping: the first alert of
 * a group is held `groupWaitMs` so that the rest of its incident joins it; alerts for a group sent
 * less than `groupIntervalMs` ago are held until that interval is over and then go as one
 * follow-up. Memory is bounded: a group keeps at most `maxAlertsPerGroup` alerts (the rest are
 * counted), a target at most `maxGroups` groups (the oldest is dropped). No clock and no timers:
 * the caller passes the time and decides when to flush.
 */
import type { Alert } from '../alert.ts';

export interface GroupLimits {
  groupWaitMs: number;
  groupIntervalMs: number;
  maxAlertsPerGroup: number;
  maxGroups: number;
}

/** The pending alerts of one group, taken for sending. */
export interface GroupBatch {
  group_key: string;
  alerts: Alert[];
  /** alerts beyond `maxAlertsPerGroup`, counted only */
  omitted: number;
}

interface Group extends GroupBatch {
  /** when the pending alerts are due (meaningful while there are any) */
  dueAt: number;
  /** when the group was last sent; undefined before the first time */
  lastSentAt: number | undefined;
}

export class GroupTable {
  private readonly limits: GroupLimits;
  /** insertion order = age, so the first entry is the oldest group */
  private readonly groups = new Map<string, Group>();
  private dropped = { groups: 0, alerts: 0 };

  constructor(limits: GroupLimits) {
    this.limits = limits;
  }

  /** Adds `alert` at `nowMs`; returns when its group becomes due if it was not pending before. */
  add(alert: Alert, nowMs: number): number | undefined {
    let group = this.groups.get(alert.group_key);
    if (group === undefined) {
      if (this.groups.size >= this.limits.maxGroups) this.dropOldest();
      group = { group_key: alert.group_key, alerts: [], omitted: 0, dueAt: 0, lastSentAt: undefined };
      this.groups.set(alert.group_key, group);
    }
    const wasPending = pending(group);
    if (!wasPending) {
      const intervalEnd = (group.lastSentAt ?? Number.NEGATIVE_INFINITY) + this.limits.groupIntervalMs;
      group.dueAt = nowMs < intervalEnd ? intervalEnd : nowMs + this.limits.groupWaitMs;
    }
    if (group.alerts.length < this.limits.maxAlertsPerGroup) group.alerts.push(alert);
    else group.omitted++;
    return wasPending ? undefined : group.dueAt;
  }

  /** Takes the pending alerts of every group due by `untilMs`, marking those groups sent at `nowMs`. */
  takeDue(nowMs: number, untilMs: number): GroupBatch[] {
    const batches: GroupBatch[] = [];
    for (const group of this.groups.values()) {
      if (!pending(group) || group.dueAt > untilMs) continue;
      batches.push({ group_key: group.group_key, alerts: group.alerts, omitted: group.omitted });
      group.alerts = [];
      group.omitted = 0;
      group.lastSentAt = nowMs;
    }
    return batches;
  }

  /** The earliest due time among groups with pending alerts. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const group of this.groups.values()) {
      if (pending(group) && (next === undefined || group.dueAt < next)) next = group.dueAt;
    }
    return next;
  }

  /** Forgets groups with nothing pending whose interval is over (a new alert starts them afresh). */
  prune(nowMs: number): void {
    for (const [key, group] of this.groups) {
      if (!pending(group) && (group.lastSentAt ?? 0) + this.limits.groupIntervalMs <= nowMs) {
        this.groups.delete(key);
      }
    }
  }

  /** Groups and alerts dropped for the `maxGroups` bound since the last call. */
  takeDropped(): { groups: number; alerts: number } {
    const dropped = this.dropped;
    this.dropped = { groups: 0, alerts: 0 };
    return dropped;
  }

  private dropOldest(): void {
    const oldest = this.groups.values().next().value;
    if (oldest === undefined) return;
    this.groups.delete(oldest.group_key);
    this.dropped.groups++;
    this.dropped.alerts += oldest.alerts.length + oldest.omitted;
  }
}

const pending = (group: Group): boolean => group.alerts.length + group.omitted > 0;
