import { describe, expect, it } from 'vitest';
import { serverErrorCode } from '../../../../platform/clickhouse/refusals.ts';

describe('serverErrorCode', () => {
  it('reads the code from 18.16 and current ClickHouse messages', () => {
    expect(serverErrorCode(new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input'))).toBe(
      '27',
    );
    expect(
      serverErrorCode(new Error('Code: 6. DB::Exception: Cannot parse string (CANNOT_PARSE_TEXT)')),
    ).toBe('6');
    expect(serverErrorCode(new Error('socket hang up'))).toBeUndefined();
    expect(serverErrorCode('nope')).toBeUndefined();
  });
});
