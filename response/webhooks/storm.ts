/**
 * Storm folding: when too many of a target's groups are due at once, they are folded into one
 * summary message — counts by severity, tenant and detector and the first groups' titles — so
 * that an incident touching thousands of subjects is one message, not thousands. Like a group, the
 * summary is sent at most once per group interval; groups that become due in between are folded
 * into the next summary.
 */
import type { Severity } from '../../detectors/types.ts';
import { type Alert, SEVERITIES, severityRank } from '../alert.ts';
import { leadAlert, type StormSummary, type WebhookMessage } from './formats.ts';
import type { GroupBatch } from './groups.ts';

export const STORM_GROUP_KEY = 'tokenwatch:storm';
/** groups whose titles the summary lists, and whose lead alert it carries as a sample */
const LISTED_GROUPS = 5;
/** tenants and detectors the summary text names (the most frequent) */
const LISTED_COUNTS = 5;

const fmt = (n: number): string => n.toLocaleString('en-US');

export class StormFold {
  private groups = 0;
  private alerts = 0;
  private uncounted = 0;
  private firstMs = Number.POSITIVE_INFINITY;
  private severity: Severity = 'low';
  private bySeverity = new Map<string, number>();
  private byTenant = new Map<string, number>();
  private byDetector = new Map<string, number>();
  private samples: { lead: Alert; alerts: number }[] = [];
  /** when the last summary went out */
  private lastSentAt: number | undefined;
  /** when the folded groups are due as a summary (while any are folded) */
  dueAt = 0;

  /** Whether groups are folded and waiting for the summary. */
  get pending(): boolean {
    return this.groups > 0;
  }

  /** Folds `batch` in at `nowMs`; the first fold after a summary sets when the next one is due. */
  add(batch: GroupBatch, nowMs: number, groupIntervalMs: number): void {
    if (!this.pending) {
      const intervalEnd = (this.lastSentAt ?? Number.NEGATIVE_INFINITY) + groupIntervalMs;
      this.dueAt = Math.max(nowMs, intervalEnd);
    }
    this.groups++;
    this.alerts += batch.alerts.length + batch.omitted;
    this.uncounted += batch.omitted;
    for (const a of batch.alerts) {
      bump(this.bySeverity, a.severity);
      bump(this.byTenant, a.tenant);
      bump(this.byDetector, a.detector === '' ? `(${a.kind})` : a.detector);
      if (severityRank(a.severity) > severityRank(this.severity)) this.severity = a.severity;
      this.firstMs = Math.min(this.firstMs, a.time_ms);
    }
    const lead = leadAlert(batch.alerts);
    if (lead !== undefined && this.samples.length < LISTED_GROUPS) {
      this.samples.push({ lead, alerts: batch.alerts.length + batch.omitted });
    }
  }

  /** The summary message of everything folded so far, marking it sent at `nowMs`. */
  take(deliveryId: string, nowMs: number): WebhookMessage {
    const title = `Alert storm: ${fmt(this.alerts)} incidents in ${fmt(this.groups)} groups`;
    const bySeverity = [...SEVERITIES]
      .reverse()
      .filter((s) => this.bySeverity.has(s))
      .map((s) => `${s} ${fmt(this.bySeverity.get(s)!)}`);
    const lines = [
      `By severity: ${bySeverity.join(', ')}`,
      `By tenant: ${top(this.byTenant)}`,
      `By detector: ${top(this.byDetector)}`,
      ...(this.uncounted > 0
        ? [`(${fmt(this.uncounted)} alerts beyond the per-group cap are not broken down)`]
        : []),
      `First groups:`,
      ...this.samples.map((s) => `• ${s.lead.title}${s.alerts > 1 ? ` (${fmt(s.alerts)} alerts)` : ''}`),
      ...(this.groups > this.samples.length
        ? [`• … and ${fmt(this.groups - this.samples.length)} more groups`]
        : []),
    ];
    const storm: StormSummary = {
      title,
      text: lines.join('\n'),
      severity: this.severity,
      first_ms: Number.isFinite(this.firstMs) ? this.firstMs : nowMs,
      groups: this.groups,
      alerts: this.alerts,
      by_severity: Object.fromEntries(this.bySeverity),
      by_tenant: Object.fromEntries(this.byTenant),
      by_detector: Object.fromEntries(this.byDetector),
    };
    const samples = this.samples.map((s) => s.lead);
    const message: WebhookMessage = {
      delivery_id: deliveryId,
      group_key: STORM_GROUP_KEY,
      alerts: samples,
      omitted: this.alerts - samples.length,
      storm,
    };
    this.reset(nowMs);
    return message;
  }

  private reset(nowMs: number): void {
    this.groups = 0;
    this.alerts = 0;
    this.uncounted = 0;
    this.firstMs = Number.POSITIVE_INFINITY;
    this.severity = 'low';
    this.bySeverity = new Map();
    this.byTenant = new Map();
    this.byDetector = new Map();
    this.samples = [];
    this.lastSentAt = nowMs;
  }
}

const bump = (counts: Map<string, number>, key: string): void => {
  counts.set(key, (counts.get(key) ?? 0) + 1);
};

/** "acme 9,000, globex 998, … and 3 more" (the most frequent first). */
function top(counts: Map<string, number>): string {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const named = sorted.slice(0, LISTED_COUNTS).map(([k, n]) => `${k === '' ? '(none)' : k} ${fmt(n)}`);
  const rest = sorted.length - LISTED_COUNTS;
  return rest > 0 ? `${named.join(', ')}, … and ${rest} more` : named.join(', ');
}
