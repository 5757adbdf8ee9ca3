import { describe, expect, it } from 'vitest';
import { expiredPartitions } from '../../../../platform/clickhouse/retention.ts';

describe('expiredPartitions', () => {
  const noon = Date.parse('2026-03-01T12:00:00Z');

  it('drops day partitions before the day retentionDays ago, keeping that day', () => {
    // 90 days before 2026-03-01T12:00Z is 2025-12-01T12:00Z.
    expect(
      expiredPartitions(['20251129', '20251130', '20251201', '20251202', '20260301'], 90, noon),
    ).toStrictEqual(['20251129', '20251130']);
  });

  it('cuts off at exactly retentionDays, at the UTC day boundary', () => {
    const midnight = Date.parse('2026-03-01T00:00:00Z');
    expect(expiredPartitions(['20260226', '20260227', '20260228'], 1, midnight)).toStrictEqual([
      '20260226',
      '20260227',
    ]);
    expect(expiredPartitions(['20260226', '20260227', '20260228'], 1, midnight - 1)).toStrictEqual([
      '20260226',
    ]);
  });

  it('compares across months and years', () => {
    expect(expiredPartitions(['20241231', '20250101', '20251231'], 365, noon)).toStrictEqual([
      '20241231',
      '20250101',
    ]);
  });

  it('ignores partition ids that are not YYYYMMDD', () => {
    expect(
      expiredPartitions(
        ['all', 'tuple()', '2025113', '202511300', '2025-11-30', ' 20251130', '20251130'],
        90,
        noon,
      ),
    ).toStrictEqual(['20251130']);
    expect(expiredPartitions([], 90, noon)).toStrictEqual([]);
  });
});
