/**
 * Familiar places and networks read back from ClickHouse: how the runtime relearns, on start and
 * on partition assignment, where each subject's tokens worked over the learning period (14 days by
 * default) without replaying two weeks of events through the detectors — one row per subject,
 * place or network and day, aggregated by the database. The same rules as the detector's own
 * learning (detectors/familiar.ts, impossible-travel.ts): accepted verifications and rotated
 * refreshes with a place, never a satellite link, never an event of a copied token's travel (either
 * end of a stored impossible_travel finding that asked for a revocation; the live detector forgets
 * those ends' keys for the whole day, so the rebuild may keep a day the subject also used that place
 * or network in other events).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { EGRESS_KINDS } from '../familiar.ts';
import { partitionCondition, streamSubjectRows } from './history.ts';

export interface FamiliarRange {
  /** from here (seconds): the learning period back from now */
  fromS: number;
  /** only the subjects of these partitions (see HistoryRange.partitions) */
  partitions?: ReadonlyMap<number, readonly number[]>;
}

/** A subject's place (½° cell, detectors/familiar.ts placeKey) and egress network (ASN, 0 none) on one UTC day. */
export interface FamiliarRow {
  tenant: string;
  subject: string;
  day: number;
  place_key: number;
  asn: number;
}

/**
 * The query. The place key is computed as the detector computes it from its 1e-5° coordinates:
 * `2^32 + floor((lat + 90) * 2) * 721 + floor((lon + 180) * 2)`; the ASN only of an egress network
 * (hosting, anonymizer: familiar.ts networkKey).
 */
/** The egress kinds as an SQL list: the detector's own (familiar.ts), so both learn the same networks. */
const EGRESS_IN = [...EGRESS_KINDS].map((k) => `'${k}'`).join(', ');

export function familiarSql(database: string, range: FamiliarRange): string {
  // GLOBAL: on a cluster both tables are Distributed, and a plain IN over a Distributed subquery is
  // refused ("double-distributed", distributed_product_mode = 'deny'); GLOBAL runs the subquery once,
  // on the node asking, and sends its set to the shards (on one server it is a plain IN).
  const from = Math.floor(range.fromS);
  const partitions = range.partitions === undefined ? '' : `\n  AND ${partitionCondition(range.partitions)}`;
  return `SELECT tenant, subject, intDiv(time_ms, 86400000) AS day,
  4294967296 + toInt64(floor((round(lat * 100000) / 100000 + 90) * 2)) * 721 + toInt64(floor((round(lon * 100000) / 100000 + 180) * 2)) AS place_key,
  if(network_kind IN (${EGRESS_IN}), asn, toUInt32(0)) AS asn
FROM ${database}.events
WHERE time >= toDateTime(${from})
  AND ((type = 'verification' AND outcome = 'accepted') OR (type = 'refresh' AND outcome = 'rotated'))
  AND NOT (lat = 0 AND lon = 0 AND geo_radius_km = 0)
  AND network_kind != 'satellite'
  AND event_id GLOBAL NOT IN (
    SELECT arrayJoin(event_ids) FROM ${database}.detections
    WHERE detected_time >= toDateTime(${from}) AND detector = 'impossible_travel' AND action != 'alert_only'
  )${partitions}
GROUP BY tenant, subject, day, place_key, asn`;
}

type Row = Record<keyof FamiliarRow, string | number>;

/** Streams the familiar rows of the subjects `keep` accepts (history.ts streamSubjectRows). */
export function readFamiliar(
  client: ClickHouseClient,
  database: string,
  range: FamiliarRange,
  each: (row: FamiliarRow) => void,
  options: { keep?: (tenant: string, subject: string) => boolean; log?: Logger; signal?: AbortSignal } = {},
): Promise<{ read: number; kept: number; queryId: string; ms: number }> {
  const { signal, ...rest } = options;
  return streamSubjectRows<Row>(
    client,
    { by: 'detectors/run/familiar-history', sql: familiarSql(database, range), signal },
    (r) =>
      each({
        tenant: String(r.tenant),
        subject: String(r.subject),
        day: Number(r.day),
        place_key: Number(r.place_key),
        asn: Number(r.asn),
      }),
    { ...rest, progress: 'reading familiar places' },
  );
}
