import type { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import type { RevocationNotice } from '../../../../contract/revocation-notice-v1.ts';
import {
  ClickHouseNotices,
  NoticeClock,
  type NoticeRow,
  noticeRows,
  noticesAfterSql,
  polledNotice,
} from '../../../../response/notices/clickhouse-notices.ts';
import { NO_REFUSALS } from '../../../support/no-refusals.ts';

const T0 = 1_795_368_720_123;

const notice = (i: number, via = false): RevocationNotice => ({
  version: 1,
  revocation_id: `r${i}`,
  tenant: 'acme',
  subject: 'alice',
  target: via ? 'jti' : 'family',
  id: via ? `jti-${i}` : `fam-${i}`,
  expires_at_ms: T0 + 3_600_000,
  revoked_at_ms: T0 - 5,
  detection_id: `d${i}`,
  detector: 'refresh_replay',
  ...(via ? { via: { target: 'family' as const, id: 'fam-0' } } : {}),
});

/** A clock that stands still (or moves) as the test says. */
function manualClock(start = T0) {
  let now = start;
  return { clock: new NoticeClock(() => now), set: (ms: number) => (now = ms) };
}

/** Stands in for the ClickHouse client: keeps inserted rows; inserts finish when the test says. */
function fakeClient() {
  const inserted: NoticeRow[][] = [];
  const pending: (() => void)[] = [];
  let failNext = false;
  const client = {
    insert: async ({ values }: { values: NoticeRow[] | Readable }) => {
      if (failNext) {
        failNext = false;
        throw new Error('ClickHouse down');
      }
      await new Promise<void>((r) => pending.push(r));
      inserted.push(Array.isArray(values) ? values : await values.toArray());
    },
  } as unknown as ClickHouseClient;
  return {
    client,
    inserted,
    failNext: () => {
      failNext = true;
    },
    /** lets every insert waiting now finish, repeatedly until none waits */
    async drain() {
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setImmediate(r));
        const waiting = pending.splice(0);
        for (const done of waiting) done();
      }
    },
  };
}

describe('NoticeClock', () => {
  it('follows the clock, but never hands out the same millisecond twice nor goes back', () => {
    const { clock, set } = manualClock();
    expect([clock.next(), clock.next(), clock.next()]).toEqual([T0, T0 + 1, T0 + 2]);
    set(T0 + 100);
    expect(clock.next()).toBe(T0 + 100);
    set(T0 - 50_000); // the wall clock stepped back
    expect(clock.next()).toBe(T0 + 101);
  });
});

describe('noticeRows (seq assignment)', () => {
  it('numbers the notices of one insert ms * 1000 + index, keeping every field', () => {
    const { clock } = manualClock();
    const [chunk, ...rest] = noticeRows([notice(0), notice(1, true)], clock);
    expect(rest).toEqual([]);
    expect(chunk).toEqual([
      {
        seq: T0 * 1000,
        tenant: 'acme',
        subject: 'alice',
        target: 'family',
        id: 'fam-0',
        revocation_id: 'r0',
        via_target: '',
        via_id: '',
        detection_id: 'd0',
        detector: 'refresh_replay',
        expires_ms: T0 + 3_600_000,
        revoked_ms: T0 - 5,
        published_ms: T0,
        time: Math.floor(T0 / 1000),
      },
      expect.objectContaining({ seq: T0 * 1000 + 1, target: 'jti', via_target: 'family', via_id: 'fam-0' }),
    ]);
  });

  it('splits more than 1000 notices into inserts of 1000, each on a later millisecond', () => {
    const { clock } = manualClock();
    const chunks = noticeRows(
      Array.from({ length: 2500 }, (_, i) => notice(i)),
      clock,
    );
    expect(chunks.map((c) => c.length)).toEqual([1000, 1000, 500]);
    expect(chunks.map((c) => c[0]!.published_ms)).toEqual([T0, T0 + 1, T0 + 2]);
    expect(chunks.map((c) => c.at(-1)!.seq)).toEqual([
      T0 * 1000 + 999,
      (T0 + 1) * 1000 + 999,
      (T0 + 2) * 1000 + 499,
    ]);
    const seqs = chunks.flat().map((r) => r.seq);
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(chunks.flat().map((r) => r.revocation_id)).toEqual(
      Array.from({ length: 2500 }, (_, i) => `r${i}`),
    );
    expect(Math.max(...seqs)).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  it('keeps seqs strictly increasing across calls within the same millisecond', () => {
    const { clock } = manualClock();
    const first = noticeRows([notice(0), notice(1), notice(2)], clock).flat();
    const second = noticeRows([notice(3)], clock).flat();
    expect(first.map((r) => r.seq)).toEqual([T0 * 1000, T0 * 1000 + 1, T0 * 1000 + 2]);
    expect(second.map((r) => r.seq)).toEqual([(T0 + 1) * 1000]);
  });

  it('gives nothing for no notices (and uses no millisecond)', () => {
    const { clock } = manualClock();
    expect(noticeRows([], clock)).toEqual([]);
    expect(clock.next()).toBe(T0);
  });
});

describe('ClickHouseNotices', () => {
  it('inserts one publish at a time, taking the millisecond when its insert starts', async () => {
    const fake = fakeClient();
    const { clock } = manualClock();
    const store = new ClickHouseNotices(fake.client, 'tw', NO_REFUSALS, clock);
    const first = store.publish(Array.from({ length: 1001 }, (_, i) => notice(i)));
    const second = store.publish([notice(5000)]);
    await fake.drain();
    await Promise.all([first, second]);
    expect(fake.inserted.map((c) => c.length)).toEqual([1000, 1, 1]);
    expect(fake.inserted.map((c) => c[0]!.seq)).toEqual([T0 * 1000, (T0 + 1) * 1000, (T0 + 2) * 1000]);
    expect(fake.inserted[2]![0]!.revocation_id).toBe('r5000');
  });

  it('a failed insert fails its publish only; the next one goes on', async () => {
    const fake = fakeClient();
    const store = new ClickHouseNotices(fake.client, 'tw', NO_REFUSALS, manualClock().clock);
    fake.failNext();
    const failed = store.publish([notice(0)]);
    const next = store.publish([notice(1)]);
    await expect(failed).rejects.toThrow('ClickHouse down');
    await fake.drain();
    await next;
    expect(fake.inserted.flat().map((r) => r.revocation_id)).toEqual(['r1']);
  });
});

describe('reading notices', () => {
  it('turns a stored row (UInt64 as strings) back into the notice, with its seq first', () => {
    const { clock } = manualClock();
    const [family, jti] = noticeRows([notice(0), notice(1, true)], clock).flat();
    const asStored = (r: NoticeRow) => {
      const { published_ms: _p, time: _t, ...rest } = r;
      return {
        ...rest,
        seq: String(r.seq),
        expires_ms: String(r.expires_ms),
        revoked_ms: String(r.revoked_ms),
      };
    };
    const polled = polledNotice(asStored(family!));
    expect(polled).toStrictEqual({ seq: T0 * 1000, ...notice(0) });
    expect(Object.keys(polled)[0]).toBe('seq');
    expect(polledNotice(asStored(jti!))).toStrictEqual({ seq: T0 * 1000 + 1, ...notice(1, true) });
  });

  it('queries after the cursor, in force, by tenant when given, skipping older partitions', () => {
    const sql = noticesAfterSql('tw', {
      tenant: "o'brien",
      after: 1_795_368_720_123_004,
      nowMs: T0,
      limit: 11,
    });
    expect(sql).toContain('FROM tw.revocation_notices\n');
    expect(sql).toContain(
      `WHERE seq > 1795368720123004 AND time >= toDateTime(1795368720) AND expires_ms > ${T0} AND tenant = 'o\\'brien'\n`,
    );
    expect(sql).toMatch(/\nORDER BY seq\nLIMIT 11$/);
    expect(noticesAfterSql('tw', { tenant: undefined, after: 0, nowMs: T0, limit: 1 })).not.toContain(
      'tenant =',
    );
  });
});
