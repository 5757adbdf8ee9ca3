/** The ClickHouse sink of the batcher: inserts event rows as TabSeparated (dead letters through their store), and counts what it stored. */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { queryId } from '../../platform/clickhouse/query-id.ts';
import { isRowRefusal, RowsRefusedError } from '../../platform/clickhouse/refusals.ts';
import type { Metrics } from '../metrics.ts';
import type { RowSink } from '../pipeline/batcher.ts';
import type { DeadLetterRow, EventRow } from '../pipeline/rows.ts';
import type { DeadLetterStore } from './dead-letter-store.ts';
import { eventLabels } from './event-labels.ts';
import { EVENT_COLUMNS, encodeEventRowsTsvChunks } from './tsv.ts';

export class ClickHouseSink implements RowSink {
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private readonly metrics: Metrics;
  private readonly deadLetters: DeadLetterStore;

  constructor(client: ClickHouseClient, database: string, metrics: Metrics, deadLetters: DeadLetterStore) {
    this.client = client;
    this.database = database;
    this.metrics = metrics;
    this.deadLetters = deadLetters;
  }

  async insertEvents(rows: EventRow[]): Promise<void> {
    try {
      await this.client.insert({
        query_id: queryId('ingest/sink/clickhouse-sink'),
        table: `${this.database}.events`,
        columns: [...EVENT_COLUMNS],
        // Encoded as the client sends, a chunk per turn of the event loop, not all at once.
        values: Readable.from(encodeEventRowsTsvChunks(rows), { objectMode: false }),
        format: 'TabSeparated',
      });
    } catch (err) {
      throw isRowRefusal(err) ? new RowsRefusedError((err as Error).message) : err;
    }
    // Label values from closed sets only: free-text reasons of issuance/revocation count as "other".
    const counts = new Map<string, number>();
    for (const r of rows) {
      const key = eventLabels(r.type, r.outcome, r.reason);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, n] of counts) {
      const [type, outcome, reason] = key.split('\u0000') as [string, string, string];
      this.metrics.events.inc({ type, outcome, reason }, n);
    }
  }

  insertDeadLetters(rows: DeadLetterRow[]): Promise<void> {
    return this.deadLetters.insert(rows);
  }
}
