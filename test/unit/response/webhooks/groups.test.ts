import { describe, expect, it } from 'vitest';
import { GroupTable } from '../../../../response/webhooks/groups.ts';
import { alert } from './helpers.ts';

describe('group table', () => {
  const limits = { groupWaitMs: 100, groupIntervalMs: 1000, maxAlertsPerGroup: 3, maxGroups: 2 };

  it('holds a new group for the wait, a sent one for the interval, and counts alerts beyond the cap', () => {
    const table = new GroupTable(limits);
    expect(table.add(alert(), 0)).toBe(100);
    expect(table.add(alert(), 50)).toBeUndefined();
    expect(table.takeDue(99, 99)).toEqual([]);
    expect(table.takeDue(100, 100)).toHaveLength(1);
    expect(table.add(alert(), 200)).toBe(1100);
    for (let i = 0; i < 4; i++) table.add(alert(), 300);
    expect(table.takeDue(1100, 1100)).toEqual([
      { group_key: alert().group_key, alerts: [alert(), alert(), alert()], omitted: 2 },
    ]);
    table.prune(2100);
    expect(table.add(alert(), 2100)).toBe(2200);
  });

  it('drops the oldest group beyond the cap and reports it once', () => {
    const table = new GroupTable(limits);
    for (const key of ['a', 'b', 'c']) table.add(alert({ group_key: key }), 0);
    expect(table.takeDropped()).toEqual({ groups: 1, alerts: 1 });
    expect(table.takeDropped()).toEqual({ groups: 0, alerts: 0 });
    expect(table.takeDue(100, 100).map((b) => b.group_key)).toEqual(['b', 'c']);
  });
});
