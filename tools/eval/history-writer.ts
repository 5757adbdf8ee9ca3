/**
 * Writes a simulation's learning history (tools/simulator/history.ts) into the eval database's
 * `events` table before tokenwatch starts, the way ingest would have stored it as it happened: each
 * sighting as a contract event (an accepted verification, device id from a header, as the simulated
 * APIs report), validated, enriched with the IP intelligence tokenwatch uses and mapped to its row by
 * ingest's own code, inserted in batches by ingest's ClickHouse sink. Only the age limit differs:
 * the door refuses events older than TOKENWATCH_MAX_EVENT_AGE_SECONDS (they come late), but a
 * deployment's table holds weeks of events that came on time — the history is validated as
 * received when it happened.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { VerificationEvent } from '../../contract/event-v1.ts';
import type { IpIntel } from '../../ingest/ipintel/provider.ts';
import { createMetrics } from '../../ingest/metrics.ts';
import { type EventRow, toEventRow } from '../../ingest/pipeline/rows.ts';
import { type ValidationOptions, validateEventValue } from '../../ingest/pipeline/validate.ts';
import { LIMITS_SETTINGS } from '../../ingest/settings.ts';
import { ClickHouseSink } from '../../ingest/sink/clickhouse-sink.ts';
import { DeadLetterStore } from '../../ingest/sink/dead-letter-store.ts';
import { readTable } from '../../platform/settings.ts';
import type { Sighting } from '../simulator/history.ts';

/** What every history event's id starts with (the eval counts its traffic without them). */
export const HISTORY_EVENT_PREFIX = 'history-';

/** Rows per insert. */
export const HISTORY_BATCH_ROWS = 50_000;

/** The contract event of a sighting: an accepted verification of the device's token from its address. */
export function historyEvent(s: Sighting): VerificationEvent {
  return {
    type: 'verification',
    event_id: `${HISTORY_EVENT_PREFIX}${s.timeMs}-${s.deviceId}-${s.ip}`,
    time: s.timeMs,
    tenant: s.tenant,
    source: s.source,
    subject: s.subject,
    ip: s.ip,
    user_agent: s.userAgent,
    device_id: s.deviceId,
    device_id_source: 'header',
    outcome: 'accepted',
    reason: 'ok',
  };
}

/** The ingest validation options, with an age limit that lets every sighting in. */
function validationFor(sightings: readonly Sighting[], nowMs: number): ValidationOptions {
  const limits = readTable(LIMITS_SETTINGS, {}, []);
  const oldest = sightings.reduce((min, s) => Math.min(min, s.timeMs), nowMs);
  return {
    eventBytes: limits.eventBytes,
    maxDepth: limits.eventMaxDepth,
    maxFutureSkewSeconds: limits.maxFutureSkewSeconds,
    maxEventAgeSeconds: Math.ceil((nowMs - oldest) / 1000) + 3600,
  };
}

/** The `events` rows of sightings, as ingest makes them; throws naming the first sighting ingest refuses. */
export function historyRows(sightings: readonly Sighting[], intel: IpIntel, nowMs = Date.now()): EventRow[] {
  const opts = validationFor(sightings, nowMs);
  return sightings.map((s) => {
    const result = validateEventValue(historyEvent(s), opts, { nowMs });
    if (!result.ok)
      throw new Error(
        `the history sighting ${JSON.stringify(s)} is not a valid event (${result.error.code}: ${result.error.message}): fix tools/eval/history-writer.ts`,
      );
    return toEventRow(result.event, intel, s.timeMs);
  });
}

export interface HistoryWritten {
  rows: number;
  seconds: number;
}

/** Inserts the history's rows into `database`.events (its schema migrated already), saying how far it got. */
export async function writeHistory(o: {
  client: ClickHouseClient;
  database: string;
  sightings: readonly Sighting[];
  intel: IpIntel;
  log: Logger;
  say: (message: string) => void;
  batchRows?: number;
}): Promise<HistoryWritten> {
  const started = Date.now();
  const metrics = createMetrics();
  const sink = new ClickHouseSink(
    o.client,
    o.database,
    metrics,
    new DeadLetterStore(o.client, o.database, metrics, o.log),
  );
  const batch = o.batchRows ?? HISTORY_BATCH_ROWS;
  const nowMs = Date.now();
  for (let i = 0; i < o.sightings.length; i += batch) {
    await sink.insertEvents(historyRows(o.sightings.slice(i, i + batch), o.intel, nowMs));
    const done = Math.min(i + batch, o.sightings.length);
    o.say(
      `history: ${done} of ${o.sightings.length} rows written (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  return { rows: o.sightings.length, seconds: (Date.now() - started) / 1000 };
}
