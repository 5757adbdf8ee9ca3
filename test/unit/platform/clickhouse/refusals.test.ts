import { describe, expect, it } from 'vitest';
import { insertIsolating, isRowRefusal, RowsRefusedError } from '../../../../platform/clickhouse/refusals.ts';

describe('isRowRefusal', () => {
  it('is true for value errors, false for schema problems and outages', () => {
    expect(
      isRowRefusal(
        new Error('Code: 25, e.displayText() = DB::Exception: missing second part of surrogate pair'),
      ),
    ).toBe(true);
    expect(isRowRefusal(new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input'))).toBe(
      true,
    );
    expect(
      isRowRefusal(
        new Error(
          'Code: 117, e.displayText() = DB::Exception: Unknown field found while parsing JSONEachRow format: zz',
        ),
      ),
    ).toBe(false);
    expect(isRowRefusal(new Error('Code: 60. DB::Exception: Table tw.events does not exist'))).toBe(false);
    expect(isRowRefusal(new Error('connect ECONNREFUSED 127.0.0.1:8123'))).toBe(false);
  });
});

describe('insertIsolating', () => {
  it('stores every row but the refused ones, which come back with the message', async () => {
    const stored: number[] = [];
    const inserts: number[][] = [];
    const refused = await insertIsolating(
      Array.from({ length: 100 }, (_, i) => i),
      async (rows) => {
        inserts.push(rows);
        if (rows.some((r) => r === 13 || r === 77)) throw new RowsRefusedError(`bad row in ${rows.length}`);
        stored.push(...rows);
      },
    );
    expect(refused.map((r) => r.row)).toEqual([13, 77]);
    expect(refused[0]!.message).toBe('bad row in 1');
    expect(stored.sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i).filter((i) => i !== 13 && i !== 77),
    );
    expect(inserts.length).toBeLessThan(30); // halving: about 2·log2(100) per refused row
  });

  it('throws what is not a refusal (the caller retries)', async () => {
    await expect(
      insertIsolating([1, 2], async () => {
        throw new Error('socket hang up');
      }),
    ).rejects.toThrow('socket hang up');
  });
});
