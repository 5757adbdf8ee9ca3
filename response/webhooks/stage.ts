/**
 * Alert webhooks as the response stage runs them: the dispatcher (grouping, signing, retries)
 * with its delivery attempts counted in metrics and written to the `webhook_deliveries` table in
 * small batches (the delivery log).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import { insertJsonRows } from '../../platform/clickhouse/json-rows.ts';
import type { RefusedRowSink } from '../../platform/clickhouse/refusals.ts';
import { AddressGuard } from '../../platform/http/address-guard.ts';
import type { Alert } from '../alert.ts';
import type { ResponseStageSettings } from '../settings.ts';
import { type DeliveryRecord, WebhookDispatcher } from './index.ts';

export interface WebhookStage {
  send(alert: Alert): void;
  close(timeoutMs: number): Promise<void>;
}

const LOG_FLUSH_MS = 1000;
const LOG_MAX_ROWS = 10_000;

export function startWebhooks(
  w: ResponseStageSettings['webhooks'],
  deps: {
    clickhouse: ClickHouseClient;
    database: string;
    metrics: Metrics;
    log: Logger;
    refused: RefusedRowSink;
  },
): WebhookStage {
  const log = deps.log.child({ component: 'webhooks' });
  if (w.targets.length === 0) {
    log.info(
      'no alert webhooks configured (TOKENWATCH_WEBHOOK_URL or webhooks in TOKENWATCH_RESPONSE_CONFIG)',
    );
    return { send: () => undefined, close: async () => undefined };
  }
  let rows: DeliveryRecord[] = [];
  const flushLog = async () => {
    if (rows.length === 0) return;
    const batch = rows;
    rows = [];
    try {
      // Refused rows are dead-lettered; only failures worth retrying land below.
      await insertJsonRows({
        client: deps.clickhouse,
        table: `${deps.database}.webhook_deliveries`,
        rows: batch.map((r) => ({ ...r, time: Math.floor(r.time_ms / 1000) })),
        refused: deps.refused,
        by: 'response/webhooks/stage',
      });
    } catch (err) {
      deps.metrics.responseWriteFailures.inc({ sink: 'webhook_deliveries' });
      log.warn(
        { rows: batch.length, err: (err as Error).message },
        'storing webhook delivery records failed; retrying',
      );
      rows = [...batch, ...rows].slice(-LOG_MAX_ROWS);
    }
  };
  const timer = setInterval(() => void flushLog(), LOG_FLUSH_MS);
  timer.unref();

  const dispatcher = new WebhookDispatcher({
    targets: w.targets,
    groupWaitMs: w.groupWaitMs,
    groupIntervalMs: w.groupIntervalMs,
    timeoutMs: w.timeoutMs,
    guard: new AddressGuard(w.allowedCidrs),
    log,
    onDelivery: (record) => {
      deps.metrics.webhookDeliveries.inc({ target: record.target, status: record.status });
      if (rows.length < LOG_MAX_ROWS) rows.push(record);
    },
  });
  log.info({ targets: w.targets.map((t) => `${t.name} (${t.format})`) }, 'alert webhooks configured');
  return {
    send: (alert) => dispatcher.send(alert),
    async close(timeoutMs) {
      await dispatcher.close(timeoutMs);
      clearInterval(timer);
      await flushLog();
    },
  };
}
