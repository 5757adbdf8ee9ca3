/**
 * The raw baseline of the ingest benchmarks: the rows the pipeline would build for some events,
 * inserted straight into ClickHouse as JSONEachRow, 10k rows per insert, timed.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { IpIntel } from '../../ingest/ipintel/provider.ts';
import { type EventRow, toEventRow } from '../../ingest/pipeline/rows.ts';
import { validateEventValue } from '../../ingest/pipeline/validate.ts';

/** The events table rows of `events` (validated and enriched as the pipeline does); throws on an invalid event. */
export function rowsOf(events: Record<string, unknown>[]): EventRow[] {
  const geo = new IpIntel();
  const receivedMs = Date.now();
  return events.map((e) => {
    const r = validateEventValue(
      e,
      { eventBytes: 16_384, maxEventAgeSeconds: 86_400, maxFutureSkewSeconds: 300 },
      { nowMs: receivedMs },
    );
    if (!r.ok) throw new Error(`raw baseline: an event the bench made is invalid: ${r.error.message}`);
    return toEventRow(r.event, geo, receivedMs);
  });
}

/** Inserts `rows` into `table`, 10k per insert, one after another; rows/s. */
export async function insertRaw(ch: ClickHouseClient, table: string, rows: EventRow[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += 10_000)
    await ch.insert({ table, values: rows.slice(i, i + 10_000), format: 'JSONEachRow' });
  return rows.length / ((performance.now() - t0) / 1000);
}
