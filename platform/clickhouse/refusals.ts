/**
 * Rows ClickHouse refuses. Some server errors mean "these values cannot go into these columns"
 * (parse and type errors): retrying the same rows cannot help, so such rows are isolated — the
 * batch is halved until each refused row is alone — and handed back, while the rest of the batch is
 * stored. Everything else (ClickHouse unreachable, a table or column missing, the server busy) is
 * thrown for the caller to retry: those are what an operator must fix, and readiness says so.
 */
import { ClickHouseError } from '@clickhouse/client';

/** Server error codes that mean the values themselves are refused. */
const ROW_REFUSAL_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE (a lone surrogate in JSON: "missing second part of surrogate pair")
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

/** Messages of those codes that are about the schema, not the values (a migration is missing): retried. */
const SCHEMA_PROBLEM = /Unknown field|No such column|There is no column|Missing columns/i;

/** The server's error code: from the client's ClickHouseError, or from the message (18.16 writes "Code: 27, e.displayText() = …", which the client does not parse). */
export function serverErrorCode(err: unknown): string | undefined {
  if (err instanceof ClickHouseError) return String(err.code);
  return err instanceof Error ? /^Code: (\d+)[.,]/.exec(err.message)?.[1] : undefined;
}

/** Whether ClickHouse refused the values of the rows (retrying them cannot help). */
export function isRowRefusal(err: unknown): boolean {
  const code = serverErrorCode(err);
  return (
    code !== undefined &&
    ROW_REFUSAL_CODES.has(code) &&
    !(err instanceof Error && SCHEMA_PROBLEM.test(err.message))
  );
}

/** Thrown by an insert when the server refuses the rows themselves (retrying the same rows cannot help). */
export class RowsRefusedError extends Error {
  readonly code = 'ERR_TOKENWATCH_ROWS_REFUSED';
}

/** A row the server refused, with its message. */
export interface Refused<T> {
  row: T;
  message: string;
}

/**
 * Inserts `rows` with `insert`; when it throws RowsRefusedError, halves the rows until the refused
 * ones are alone, stores the others, and returns the refused ones with the server's message. Any
 * other error is thrown (what was stored before it stays stored: retry the whole, duplicates
 * collapse by key).
 */
export async function insertIsolating<T>(
  rows: T[],
  insert: (rows: T[]) => Promise<void>,
): Promise<Refused<T>[]> {
  const refused: Refused<T>[] = [];
  const attempt = async (part: T[]): Promise<void> => {
    if (part.length === 0) return;
    try {
      await insert(part);
    } catch (err) {
      if (!(err instanceof RowsRefusedError)) throw err;
      if (part.length === 1) {
        refused.push({ row: part[0]!, message: err.message });
        return;
      }
      const mid = part.length >> 1;
      await attempt(part.slice(0, mid));
      await attempt(part.slice(mid));
    }
  };
  await attempt(rows);
  return refused;
}

/** Where the rows a table refused go (the dead letters, in tokenwatch), so that nothing is silently lost. */
export interface RefusedRowSink {
  /** Stores a record of each refused row of `table`; throws only for errors worth retrying. */
  store(table: string, refused: Refused<object>[]): Promise<void>;
}
