/** The ClickHouse sink: inserts event rows as TabSeparated and dead letters as JSONEachRow, and counts what it stored. */
import { Readable } from 'node:stream';
import { type ClickHouseClient, ClickHouseError } from '@clickhouse/client';
import type { Metrics } from '../metrics.ts';
import { type RowSink, RowsRejectedError } from '../pipeline/batcher.ts';
import type { DeadLetterRow, EventRow } from '../pipeline/rows.ts';
import { EVENT_COLUMNS, encodeEventRowsTsv } from './tsv.ts';

/**
 * ClickHouse error codes that mean "these values cannot go into these columns" (parse and type
 * errors). Retrying the same rows cannot help; missing tables/columns and server trouble can, so
 * those are not here and stay retried.
 */
const ROW_REJECTION_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '130', // CANNOT_READ_ARRAY_FROM_TEXT
  '131', // TOO_LARGE_STRING_SIZE
]);

/** The server's error code: from the client's ClickHouseError, or from the message (18.16 writes "Code: 27, e.displayText() = …", which the client does not parse). */
export function serverErrorCode(err: unknown): string | undefined {
  if (err instanceof ClickHouseError) return String(err.code);
  return err instanceof Error ? /^Code: (\d+)[.,]/.exec(err.message)?.[1] : undefined;
}

function isRowRejection(err: unknown): boolean {
  const code = serverErrorCode(err);
  return code !== undefined && ROW_REJECTION_CODES.has(code);
}

export class ClickHouseSink implements RowSink {
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private readonly metrics: Metrics;

  constructor(client: ClickHouseClient, database: string, metrics: Metrics) {
    this.client = client;
    this.database = database;
    this.metrics = metrics;
  }

  async insertEvents(rows: EventRow[]): Promise<void> {
    try {
      await this.client.insert({
        table: `${this.database}.events`,
        columns: [...EVENT_COLUMNS],
        values: Readable.from([encodeEventRowsTsv(rows)], { objectMode: false }),
        format: 'TabSeparated',
      });
    } catch (err) {
      throw isRowRejection(err) ? new RowsRejectedError((err as Error).message) : err;
    }
    const counts = new Map<string, number>();
    for (const r of rows) {
      const key = `${r.type}\u0000${r.outcome}\u0000${r.reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, n] of counts) {
      const [type, outcome, reason] = key.split('\u0000') as [string, string, string];
      this.metrics.events.inc({ type, outcome, reason }, n);
    }
  }

  async insertDeadLetters(rows: DeadLetterRow[]): Promise<void> {
    await this.client.insert({ table: `${this.database}.dead_letters`, values: rows, format: 'JSONEachRow' });
  }
}
