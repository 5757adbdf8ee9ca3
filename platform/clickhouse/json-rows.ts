/**
 * Inserting rows as JSONEachRow into one table the way every table owner should: every string made
 * well-formed first (ClickHouse refuses a lone surrogate in JSON, and one such row used to block a
 * sink forever), refused rows isolated and handed to the refused-row sink, every other failure
 * thrown for the caller to retry.
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { wellFormedRow } from '../text.ts';
import { queryId } from './query-id.ts';
import { insertIsolating, isRowRefusal, type RefusedRowSink, RowsRefusedError } from './refusals.ts';

export interface JsonInsert<T extends object> {
  client: ClickHouseClient;
  /** `database.table` */
  table: string;
  rows: T[];
  /** where refused rows go (their dead letters) */
  refused: RefusedRowSink;
  /** the module inserting (its path without `.ts`): named in the query id */
  by: string;
}

/** Inserts the rows; resolves once every row is stored or, if ClickHouse refused it, handed to `refused`. */
export async function insertJsonRows<T extends object>(o: JsonInsert<T>): Promise<void> {
  if (o.rows.length === 0) return;
  const refused = await insertIsolating(o.rows, async (part) => {
    try {
      await o.client.insert({
        table: o.table,
        // A stream, not an array: the client then serializes rows as it sends them, a few per
        // turn of the event loop, instead of all of them at once.
        values: Readable.from(wellFormedRows(part), { objectMode: true }),
        format: 'JSONEachRow',
        query_id: queryId(o.by),
      });
    } catch (err) {
      throw isRowRefusal(err) ? new RowsRefusedError((err as Error).message) : err;
    }
  });
  if (refused.length > 0) await o.refused.store(o.table, refused);
}

function* wellFormedRows<T extends object>(rows: T[]): Generator<T> {
  for (const row of rows) yield wellFormedRow(row);
}
