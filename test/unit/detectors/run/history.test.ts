import { describe, expect, it } from 'vitest';
import { historySql } from '../../../../detectors/run/history.ts';

const RANGE = { familiesFromS: 1000, tokensFromS: 5000 };

describe('historySql', () => {
  it('reads every subject without partitions (one process, the backtest)', () => {
    const sql = historySql('tw', RANGE);
    expect(sql).not.toContain('kafka_partition');
    expect(sql).toMatch(/^SELECT type, event_id, .*\nFROM tw\.events\nWHERE time >= toDateTime\(1000\)/s);
    expect(sql).toMatch(/ORDER BY time_ms$/);
  });

  it('reads the given partitions’ subjects, and the rows filed under no or another count', () => {
    const sql = historySql('tw', { ...RANGE, partitions: new Map([[4, [3, 1, 3]]]) });
    expect(sql).toContain(
      '\n  AND ((kafka_partitions = 4 AND kafka_partition IN (1, 3)) OR kafka_partitions NOT IN (4))\nORDER BY',
    );
  });

  it('takes topics of several counts', () => {
    const sql = historySql('tw', {
      ...RANGE,
      partitions: new Map([
        [4, [0]],
        [12, [5, 7]],
      ]),
    });
    expect(sql).toContain(
      'AND ((kafka_partitions = 4 AND kafka_partition IN (0)) OR (kafka_partitions = 12 AND kafka_partition IN (5, 7)) OR kafka_partitions NOT IN (4, 12))',
    );
  });
});
