/** The ClickHouse sink: inserts event rows as TabSeparated and dead letters as JSONEachRow, and counts what it stored. */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Metrics } from '../metrics.ts';
import type { RowSink } from '../pipeline/batcher.ts';
import type { DeadLetterRow, EventRow } from '../pipeline/rows.ts';
import { EVENT_COLUMNS, encodeEventRowsTsv } from './tsv.ts';

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
    await this.client.insert({
      table: `${this.database}.events`,
      columns: [...EVENT_COLUMNS],
      values: Readable.from([encodeEventRowsTsv(rows)], { objectMode: false }),
      format: 'TabSeparated',
    });
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
