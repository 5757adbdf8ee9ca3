/**
 * Prometheus metrics for the SDK (import `@tokenwatch/sdk/prometheus`; needs `prom-client`): the
 * reporter's queue, sent and dropped events, the denylist's size and hits — read from their
 * `stats()` at scrape time, so the request path pays nothing for them.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Denylist } from './denylist.ts';
import type { Reporter } from './reporter.ts';

export interface SdkMetricsOptions {
  registry: Registry;
  reporter?: Reporter;
  denylist?: Denylist;
  /** default `tokenwatch_sdk_` */
  prefix?: string;
}

/** A counter that follows a running total read at scrape time. */
function totalCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Record<string, number>,
): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [label, total] of Object.entries(read())) {
        const delta = total - (seen.get(label) ?? 0);
        seen.set(label, total);
        if (delta <= 0) continue;
        if (labelNames.length === 0) this.inc(delta);
        else this.inc({ [labelNames[0]!]: label }, delta);
      }
    },
  });
}

export function registerSdkMetrics(o: SdkMetricsOptions): void {
  const p = o.prefix ?? 'tokenwatch_sdk_';
  const { registry, reporter, denylist } = o;
  if (reporter !== undefined) {
    new Gauge({
      name: `${p}events_queued`,
      help: 'events waiting to be sent to tokenwatch',
      registers: [registry],
      collect() {
        this.set(reporter.stats().queued);
      },
    });
    totalCounter(registry, `${p}events_sent_total`, 'events tokenwatch took', [], () => ({
      all: reporter.stats().sent,
    }));
    totalCounter(
      registry,
      `${p}events_dropped_total`,
      'events dropped: queue_full (the sink was slow or down), refused (by the sink), closed (at shutdown)',
      ['reason'],
      () => reporter.stats().dropped,
    );
    totalCounter(registry, `${p}send_failures_total`, 'batches the sink did not take', [], () => ({
      all: reporter.stats().sendFailures,
    }));
  }
  if (denylist !== undefined) {
    new Gauge({
      name: `${p}denylist_entries`,
      help: 'revoked jti/family/session/subject entries held',
      registers: [registry],
      collect() {
        this.set(denylist.stats().entries);
      },
    });
    totalCounter(registry, `${p}denylist_hits_total`, 'verifications refused as revoked', [], () => ({
      all: denylist.stats().hits,
    }));
    new Gauge({
      name: `${p}denylist_full`,
      help: '1 when the denylist holds maxEntries: new notices push live entries out (alert on it)',
      registers: [registry],
      collect() {
        this.set(denylist.stats().full ? 1 : 0);
      },
    });
    totalCounter(
      registry,
      `${p}denylist_evicted_total`,
      'live entries pushed out because the denylist was full (those expiring soonest)',
      [],
      () => ({ all: denylist.stats().evicted }),
    );
    totalCounter(
      registry,
      `${p}revocation_notices_total`,
      'revocation notices received: applied, invalid (skipped: malformed or absurd times), expired (on arrival), clamped (expiry cut to maxLifetimeMs; applied too)',
      ['result'],
      () => {
        const s = denylist.stats();
        return { applied: s.applied, invalid: s.invalid, expired: s.expired, clamped: s.clamped };
      },
    );
  }
}
