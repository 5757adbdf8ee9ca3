/**
 * A typed query for the `grafana-clickhouse-datasource` plugin (v4), which the foundation SDK does
 * not ship: raw SQL with the plugin's macros. Each query also declares the columns its panel reads
 * (series names, table columns, map coordinates, link fields); the tests run every query on a real
 * ClickHouse and compare. The declaration stays out of the dashboard JSON (`expectedColumns`).
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { CLICKHOUSE } from './datasources.ts';

/** How the plugin shapes the answer: a table, or time series (long rows pivoted by their string columns). */
export type ClickHouseQueryType = 'table' | 'timeSeries';

export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  editorType: 'sql';
  queryType: ClickHouseQueryType;
  /** the plugin's backend reads this one: 0 time series, 1 table */
  format: 0 | 1;
  rawSql: string;
  hide?: boolean;
}

const FORMAT: Record<ClickHouseQueryType, 0 | 1> = { timeSeries: 0, table: 1 };

/** rawSql → the columns the panel expects back, filled as queries are built. */
const EXPECTED = new Map<string, readonly string[]>();

export function expectedColumns(rawSql: string): readonly string[] | undefined {
  return EXPECTED.get(rawSql);
}

export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  readonly #query: ClickHouseQuery;
  #columns: readonly string[] = [];

  constructor(rawSql: string) {
    this.#query = {
      refId: 'A',
      datasource: { ...CLICKHOUSE },
      editorType: 'sql',
      queryType: 'table',
      format: FORMAT.table,
      rawSql: rawSql.trim(),
      _implementsDataqueryVariant() {},
    };
  }

  refId(refId: string): this {
    this.#query.refId = refId;
    return this;
  }

  /** Long rows (time, labels…, values…) pivoted into one series per label combination. */
  timeSeries(): this {
    this.#query.queryType = 'timeSeries';
    this.#query.format = FORMAT.timeSeries;
    return this;
  }

  table(): this {
    this.#query.queryType = 'table';
    this.#query.format = FORMAT.table;
    return this;
  }

  /** The columns the panel reads, in order. */
  columns(...names: string[]): this {
    this.#columns = names;
    return this;
  }

  build(): ClickHouseQuery {
    if (this.#columns.length === 0) {
      throw new Error(`ClickHouse query without declared columns (call .columns()):\n${this.#query.rawSql}`);
    }
    EXPECTED.set(this.#query.rawSql, this.#columns);
    return { ...this.#query };
  }
}

export const sql = (rawSql: string) => new ClickHouseQueryBuilder(rawSql);
