/** The SDK's Prometheus metrics follow the reporter's and the denylist's counters at scrape time. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BatchingReporter, Denylist } from '../../../sdk/src/index.ts';
import { registerSdkMetrics } from '../../../sdk/src/prometheus.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('registerSdkMetrics', () => {
  it('exposes queued, dropped by reason, denylist entries, hits and notices', async () => {
    const registry = new Registry();
    // a sink that is always down: the queue (3) overflows
    const down = {
      target: 'nowhere',
      send: async () => ({ ok: false as const, retry: true, error: 'down' }),
    };
    const reporter = new BatchingReporter(down, { maxQueue: 3, closeTimeoutMs: 50, logger: quiet });
    const denylist = new Denylist({ logger: quiet });
    registerSdkMetrics({ registry, reporter, denylist });
    for (let i = 0; i < 5; i++)
      reporter.report({ event_id: `e${i}`, type: 'verification', time: Date.now(), tenant: 'acme' });
    denylist.apply({
      version: 1,
      revocation_id: 'r',
      tenant: 'acme',
      subject: 's',
      target: 'jti',
      id: 'j',
      expires_at_ms: Date.now() + 60_000,
      revoked_at_ms: Date.now(),
    });
    denylist.apply({ not: 'a notice' });
    denylist.match({ tenant: 'acme', jti: 'j' });

    const first = await registry.metrics();
    expect(first).toMatch(/^tokenwatch_sdk_events_queued 3$/m);
    expect(first).toMatch(/^tokenwatch_sdk_events_dropped_total\{reason="queue_full"\} 2$/m);
    expect(first).toMatch(/^tokenwatch_sdk_denylist_entries 1$/m);
    expect(first).toMatch(/^tokenwatch_sdk_denylist_hits_total 1$/m);
    expect(first).toMatch(/^tokenwatch_sdk_revocation_notices_total\{result="invalid"\} 1$/m);

    reporter.report({ event_id: 'e5', type: 'verification', time: Date.now(), tenant: 'acme' });
    // counters keep counting between scrapes (not reset, not doubled)
    expect(await registry.metrics()).toMatch(
      /^tokenwatch_sdk_events_dropped_total\{reason="queue_full"\} 3$/m,
    );
    await reporter.close();
    denylist.close();
  });
});
