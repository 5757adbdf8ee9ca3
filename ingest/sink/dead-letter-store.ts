/**
 * The `dead_letters` table's writer (INSERT … FORMAT JSONEachRow), and the place every other table
 * sends the rows ClickHouse refused. A dead letter that is refused itself is stored again as a bare
 * record (code, message and ids, no payload); one refused even then is dropped, logged and counted
 * (`tokenwatch_rows_dropped_total`). No row can block the writer: only errors worth retrying
 * (ClickHouse unreachable, the table missing) are thrown.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { insertJsonRows } from '../../platform/clickhouse/json-rows.ts';
import type { Refused, RefusedRowSink } from '../../platform/clickhouse/refusals.ts';
import type { Metrics } from '../metrics.ts';
import { type DeadLetterRow, refusedRowLetter } from '../pipeline/rows.ts';

export class DeadLetterStore implements RefusedRowSink {
  readonly #client: ClickHouseClient;
  readonly #table: string;
  readonly #metrics: Metrics;
  readonly #log: Logger;

  constructor(client: ClickHouseClient, database: string, metrics: Metrics, log: Logger) {
    this.#client = client;
    this.#table = `${database}.dead_letters`;
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Stores dead letters; throws only what is worth retrying. */
  async insert(rows: DeadLetterRow[]): Promise<void> {
    await insertJsonRows({
      client: this.#client,
      table: this.#table,
      rows,
      by: 'ingest/sink/dead-letter-store',
      refused: { store: (_table, refused) => this.#storeBare(refused as Refused<DeadLetterRow>[]) },
    });
  }

  /** Dead letters for the rows `table` refused (detections, revocation records, notices, webhook log…). */
  async store(table: string, refused: Refused<object>[]): Promise<void> {
    const name = table.slice(table.lastIndexOf('.') + 1);
    this.#metrics.rowsRefused.inc({ table: name }, refused.length);
    this.#log.error(
      { table: name, rows: refused.length, err: refused[0]?.message },
      'ClickHouse refused rows; storing them as dead letters (code insert_rejected)',
    );
    await this.insert(refused.map((r) => refusedRowLetter(table, r)));
  }

  /** The letters ClickHouse refused, stored again without payload; what is refused even then is dropped. */
  async #storeBare(refused: Refused<DeadLetterRow>[]): Promise<void> {
    const bare = refused.map(({ row, message }) => ({
      ...row,
      message: `ClickHouse refused this dead letter (${message.slice(0, 300)}); its payload and message were dropped`,
      payload: '',
      field: '',
      truncated: 1,
    }));
    await insertJsonRows({
      client: this.#client,
      table: this.#table,
      rows: bare,
      by: 'ingest/sink/dead-letter-store',
      refused: {
        store: async (_table, dropped) => {
          this.#metrics.rowsDropped.inc({ table: 'dead_letters' }, dropped.length);
          this.#log.error(
            {
              letters: dropped.map((d) => (d.row as DeadLetterRow).letter_id).slice(0, 10),
              count: dropped.length,
              err: dropped[0]?.message,
            },
            'ClickHouse refused dead letters even without payload; dropped (tokenwatch_rows_dropped_total)',
          );
        },
      },
    });
  }
}
