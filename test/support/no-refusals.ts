/** A refused-row sink for tests whose rows ClickHouse must never refuse: a refusal fails the test, naming the table and the server's message. */
import type { RefusedRowSink } from '../../platform/clickhouse/refusals.ts';

export const NO_REFUSALS: RefusedRowSink = {
  store: async (table, refused) => {
    throw new Error(`ClickHouse refused ${refused.length} row(s) of ${table}: ${refused[0]?.message}`);
  },
};
