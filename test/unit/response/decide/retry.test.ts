import { describe, expect, it } from 'vitest';
import { DecisionMemory } from '../../../../response/decide/decider.ts';
import { GuardLedger } from '../../../../response/decide/ledger.ts';
import { retryClaims, retryDecisions, SuppressedQueue } from '../../../../response/decide/retry.ts';
import type { RevocationRow } from '../../../../response/revocation.ts';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

function row(
  id: string,
  tenant: string,
  decidedMs: number,
  over: Partial<RevocationRow> = {},
): RevocationRow {
  return {
    revocation_id: id,
    tenant,
    subject: `user-${id}`,
    target_kind: 'family',
    target_id: `fam-${id}`,
    status: 'suppressed',
    attempt: 0,
    http_status: 0,
    latency_ms: 0,
    error: 'blast-radius guard: tenant limit of 2/min',
    detection_id: `det-${id}`,
    detector: 'refresh_replay',
    severity: 'high',
    reason: 'refresh_replay: replay',
    expires_ms: decidedMs + 86_400_000,
    detected_ms: decidedMs - 10,
    decided_ms: decidedMs,
    time_ms: decidedMs,
    ...over,
  };
}

function queued(rows: RevocationRow[]) {
  const memory = new DecisionMemory();
  const q = new SuppressedQueue();
  for (const r of rows) {
    memory.targets.set(r.revocation_id, r.status);
    memory.remember(r.detection_id, 'suppressed', r.revocation_id);
    q.add(r);
  }
  return { memory, q };
}

describe('suppressed revocations retried', () => {
  it.each([
    { name: 'no room: nothing due', room: { a: 0, b: 0 }, due: [] },
    { name: 'room for one of a: its oldest', room: { a: 1, b: 0 }, due: ['a1'] },
    {
      name: 'room for both tenants: oldest first, each within its room',
      room: { a: 2, b: 1 },
      due: ['b1', 'a1', 'a2'],
    },
    { name: 'more room than rows', room: { a: 9, b: 9 }, due: ['b1', 'a1', 'a2', 'a3'] },
  ])('$name', ({ room, due }) => {
    const { memory, q } = queued([
      row('a2', 'a', NOW - 3000),
      row('b1', 'b', NOW - 5000),
      row('a1', 'a', NOW - 4000),
      row('a3', 'a', NOW - 1000),
    ]);
    const asked: string[] = [];
    const got = q.due(memory, NOW, HOUR, (t) => {
      asked.push(t);
      return room[t as 'a' | 'b'];
    });
    expect(got.due.map((s) => s.row.revocation_id)).toEqual(due);
    expect(asked.sort()).toEqual(['a', 'b']); // room asked once per tenant
  });

  it('drops rows past the retry age and rows no longer suppressed; keeps the first suppression of a target', () => {
    const { memory, q } = queued([
      row('old', 'a', NOW - HOUR),
      row('revoked', 'a', NOW - 10),
      row('k', 'a', NOW - 5),
    ]);
    expect(q.add(row('k', 'a', NOW - 1))).toBe(0);
    expect(q.add(row('k2', 'a', NOW - 1, { status: 'pending' }))).toBe(0); // only suppressed rows
    memory.targets.set('revoked', 'pending'); // a later finding revoked it
    const got = q.due(memory, NOW, HOUR, () => 10);
    expect(got.expired.map((s) => s.row.revocation_id)).toEqual(['old']);
    expect(got.settled).toBe(1);
    expect(got.due.map((s) => [s.row.revocation_id, s.row.decided_ms])).toEqual([['k', NOW - 5]]);
    expect(q.size).toBe(1);
  });

  it('keeps at most its cap, dropping the oldest', () => {
    const q = new SuppressedQueue(2);
    expect(q.add(row('1', 'a', NOW))).toBe(0);
    expect(q.add(row('2', 'a', NOW))).toBe(0);
    expect(q.add(row('3', 'a', NOW))).toBe(1);
    expect(q.size).toBe(2);
  });

  it('allowed → a pending row (suppressed → pending), started, alerted as revoked late; refused and held are not', () => {
    const { memory, q } = queued([
      row('ok', 'a', NOW - 30_000),
      row('no', 'a', NOW - 20_000),
      row('h', 'b', NOW - 10_000),
    ]);
    const { due } = q.due(memory, NOW, HOUR, () => 10);
    const verdicts = new Map([
      ['det-ok', { kind: 'allowed' } as const],
      ['det-no', { kind: 'refused', scope: 'tenant', limit: 2, tripped: false, page: false } as const],
      ['det-h', { kind: 'held', by: 'det-other' } as const],
    ]);
    const r = retryDecisions(due, verdicts, memory, NOW);
    expect(r.outcomes.map((o) => [o.revocationId, o.outcome])).toEqual([
      ['ok', 'revoked'],
      ['no', 'refused'],
      ['h', 'held'],
    ]);
    expect(r.rows).toEqual([
      expect.objectContaining({
        revocation_id: 'ok',
        status: 'pending',
        detection_id: 'det-ok',
        decided_ms: NOW - 30_000,
        time_ms: NOW,
        error: expect.stringContaining('retried'),
      }),
    ]);
    expect(r.start.map((s) => s.row)).toEqual(r.rows);
    expect(r.alerts).toEqual([
      expect.objectContaining({
        kind: 'detection',
        tenant: 'a',
        subject: 'user-ok',
        title: expect.stringMatching(
          /^Revoked late — user-ok: .*30 s after the blast-radius guard held it back$/,
        ),
        fields: expect.objectContaining({ revoked_late: true, late_s: 30, response: 'revoke' }),
      }),
    ]);
    expect(memory.targets.get('ok')).toBe('pending');
    expect(memory.decided.get('det-ok')).toEqual({ decision: 'revoke', revocationId: 'ok' });
    expect(memory.targets.get('no')).toBe('suppressed');
    // no verdict at all (the shared guard did not answer): refused, stays queued
    expect(retryDecisions(due.slice(0, 1), new Map(), new DecisionMemory(), NOW).outcomes[0]!.outcome).toBe(
      'refused',
    );
  });

  it('through a ledger: a suppressed claim is allowed again once the window has room, by the same detection', () => {
    const limits = { perTenantPerMinute: 1, totalPerMinute: 10, windowMs: 2000 };
    const ledger = new GuardLedger(limits);
    const first = row('x', 'a', NOW - 100);
    expect(ledger.claim({ tenant: 'a', revocationId: 'other', detectionId: 'd0' }, NOW - 200).kind).toBe(
      'allowed',
    );
    expect(ledger.claim(retryClaims([{ row: first, named: [] }])[0]!, NOW - 100).kind).toBe('refused');
    const { memory, q } = queued([first]);
    expect(q.due(memory, NOW, HOUR, (t) => ledger.room(t, NOW)).due).toEqual([]);
    const later = NOW + 1900;
    const { due } = q.due(memory, later, HOUR, (t) => ledger.room(t, later));
    expect(due).toHaveLength(1);
    const [c] = retryClaims(due);
    expect(c).toEqual({ tenant: 'a', revocationId: 'x', detectionId: 'det-x' });
    expect(ledger.claim(c!, later)).toEqual({ kind: 'allowed' });
  });
});
