/**
 * The reporter's linger bound, on a simulated clock: an event is handed to the transport at most
 * lingerMs after it was reported — or, when batches were still in flight then, the moment the last
 * of those ahead of it is answered (one batch in flight at a time) — whatever the rate, the batch
 * size and the sink's speed; batches never exceed batchSize, and every event goes once, in order.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchingReporter, type SendResult, type Transport } from '../../../sdk/src/reporter.ts';

afterEach(() => {
  vi.useRealTimers();
});

interface Batch {
  sentAt: number;
  answeredAt: number;
  ids: number[];
}

/** A transport answering each batch after the next of `delaysMs`; what it was given, and when. */
function slowTransport(delaysMs: number[]) {
  const batches: Batch[] = [];
  const transport: Transport = {
    target: 'simulated sink',
    send: () => Promise.reject(new Error('the reporter gives this transport JSON text')),
    sendJson(texts: string[]): Promise<SendResult> {
      const batch: Batch = {
        sentAt: performance.now(),
        answeredAt: Number.NaN,
        ids: texts.map((t) => (JSON.parse(t) as { n: number }).n),
      };
      batches.push(batch);
      const delay = delaysMs[(batches.length - 1) % delaysMs.length]!;
      return new Promise((resolve) =>
        setTimeout(() => {
          batch.answeredAt = performance.now();
          resolve({ ok: true });
        }, delay),
      );
    },
  };
  return { transport, batches };
}

/** Reports an event after each gap (ms, simulated); returns when each was reported. */
async function reportAfter(reporter: BatchingReporter, gapsMs: number[]): Promise<number[]> {
  const reportedAt: number[] = [];
  for (let n = 0; n < gapsMs.length; n++) {
    if (gapsMs[n]! > 0) await vi.advanceTimersByTimeAsync(gapsMs[n]!);
    reportedAt.push(performance.now());
    reporter.reportJson!(`{"event_id":"e-${n}","n":${n}}`);
  }
  await vi.advanceTimersByTimeAsync(60_000);
  return reportedAt;
}

/**
 * The events whose wait broke the bound, with why; empty when it held. Past its linger an event may
 * only have waited for the transport: from the moment it was due until it went, batches were in
 * flight back to back (each sent the moment the one before was answered).
 */
function lateEvents(batches: Batch[], reportedAt: number[], lingerMs: number): string[] {
  const late: string[] = [];
  batches.forEach((b, i) => {
    for (const n of b.ids) {
      const due = reportedAt[n]! + lingerMs;
      if (b.sentAt <= due) continue;
      let j = i - 1;
      while (j >= 0 && batches[j]!.answeredAt === batches[j + 1]!.sentAt && batches[j]!.sentAt > due) j--;
      const busy = j >= 0 && batches[j]!.answeredAt === batches[j + 1]!.sentAt && batches[j]!.sentAt <= due;
      if (!busy) late.push(`event ${n} reported at ${reportedAt[n]} went at ${b.sentAt} (due ${due})`);
    }
  });
  return late;
}

describe('reporter linger bound', () => {
  it('an event that arrives while a batch is in flight goes when that batch is answered, not lingerMs later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { transport, batches } = slowTransport([50]);
    const reporter = new BatchingReporter(transport, { lingerMs: 20, batchSize: 100 });
    // e-0 at 0 (its batch goes at 20, answered at 70); e-1 at 30, due at 50: goes at 70
    const reportedAt = await reportAfter(reporter, [0, 30]);
    expect(batches.map((b) => ({ sentAt: b.sentAt - reportedAt[0]!, ids: b.ids }))).toEqual([
      { sentAt: 20, ids: [0] },
      { sentAt: 70, ids: [1] },
    ]);
  });

  it('holds for any rate, batch size and sink speed; batches within batchSize, every event once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 120 }),
        fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 25 }),
        async (gapsMs, delaysMs, lingerMs, batchSize) => {
          vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
          try {
            const { transport, batches } = slowTransport(delaysMs);
            const reporter = new BatchingReporter(transport, { lingerMs, batchSize, maxQueue: 1_000 });
            const reportedAt = await reportAfter(reporter, gapsMs);
            expect(batches.flatMap((b) => b.ids)).toEqual(gapsMs.map((_, n) => n));
            expect(Math.max(...batches.map((b) => b.ids.length))).toBeLessThanOrEqual(batchSize);
            expect(lateEvents(batches, reportedAt, lingerMs)).toEqual([]);
          } finally {
            vi.useRealTimers();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
