import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PartitionSettler } from '../../../../platform/kafka/partition-settler.ts';

const log = pino({ level: 'silent' });

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = () => new Promise((r) => setImmediate(r));

function settlerMarking(maxBusy = 100) {
  const marks: string[] = [];
  const settler = new PartitionSettler({
    maxBusy,
    mark: (topic, partition, next) => marks.push(`${topic}/${partition}@${next}`),
    log,
  });
  return { settler, marks };
}

describe('partition settler', () => {
  it('marks each piece once it and every earlier piece of its partition are done, in offset order, whatever order they finish in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        async (partitionOf, order) => {
          const { settler, marks } = settlerMarking();
          const pieces = partitionOf.map((partition, i) => ({
            partition,
            next: i + 1,
            d: deferred<boolean>(),
          }));
          for (const p of pieces) settler.add('t', p.partition, String(p.next), p.d.promise);
          // Finish them in an arbitrary order, checking after each that only whole prefixes are marked.
          const left = [...pieces];
          for (let i = 0; left.length > 0; i++) {
            const [p] = left.splice((order[i] ?? 0) % left.length, 1);
            p!.d.resolve(true);
            await flush();
            for (const partition of [0, 1, 2]) {
              const own = pieces.filter((x) => x.partition === partition);
              const prefix = own.findIndex((x) => left.includes(x));
              const done = prefix === -1 ? own : own.slice(0, prefix);
              const marked = marks.filter((m) => m.startsWith(`t/${partition}@`));
              expect(marked).toEqual(done.map((x) => `t/${partition}@${x.next}`));
            }
          }
          expect(settler.unsettled).toBe(0);
        },
      ),
    );
  });

  it('holds back every later mark of a partition after a piece fails, and not those of other partitions', async () => {
    const { settler, marks } = settlerMarking();
    const [a, b, c] = [deferred<boolean>(), deferred<boolean>(), deferred<boolean>()];
    settler.add('t', 0, '10', a.promise);
    settler.add('t', 0, '20', b.promise);
    settler.add('t', 1, '5', c.promise);
    b.resolve(true);
    a.reject(new Error('ClickHouse refused the insert'));
    c.resolve(true);
    expect(await settler.settled(1000)).toBe(true);
    expect(marks).toEqual(['t/1@5']);
    settler.add('t', 0, '30', Promise.resolve(true));
    expect(await settler.settled(1000)).toBe(true);
    expect(marks).toEqual(['t/1@5']);
  });

  it('skips the mark of a piece whose work says there is nothing to commit, and marks the later ones', async () => {
    const { settler, marks } = settlerMarking();
    settler.add('t', 0, '10', Promise.resolve(false));
    settler.add('t', 0, '20', Promise.resolve(true));
    await settler.settled(1000);
    expect(marks).toEqual(['t/0@20']);
  });

  it('waits for room while a partition has as many pieces busy as allowed, and not for the parts that do not count', async () => {
    const { settler } = settlerMarking(2);
    const [a, b] = [deferred<boolean>(), deferred<boolean>()];
    const stored = deferred<boolean>();
    settler.add('t', 0, '1', a.promise, a.promise);
    settler.add('t', 0, '2', stored.promise); // rows only: bounded elsewhere (the batcher)
    await settler.room('t', 0); // one busy: room
    settler.add('t', 0, '3', b.promise, b.promise);
    let roomy = false;
    const room = settler.room('t', 0).then(() => {
      roomy = true;
    });
    await settler.room('t', 1); // another partition: room
    await flush();
    expect(roomy).toBe(false);
    b.resolve(true); // busy parts end in any order
    await room;
    expect(roomy).toBe(true);
    expect(settler.unsettled).toBe(3); // nothing settles before the first piece
    a.resolve(true);
    stored.resolve(true);
    expect(await settler.settled(1000)).toBe(true);
    expect(settler.unsettled).toBe(0);
  });

  it('marks nothing for a partition forgotten (revoked) while its pieces were written', async () => {
    const { settler, marks } = settlerMarking();
    const a = deferred<boolean>();
    settler.add('t', 0, '10', a.promise);
    settler.add('t', 1, '10', Promise.resolve(true));
    settler.forget((_topic, partition) => partition === 1);
    a.resolve(true);
    await flush();
    expect(await settler.settled(1000)).toBe(true);
    expect(marks).toEqual(['t/1@10']);
  });

  it('says when pieces are still unsettled after the wait', async () => {
    const { settler } = settlerMarking();
    settler.add('t', 0, '10', new Promise<boolean>(() => undefined));
    expect(await settler.settled(20)).toBe(false);
    expect(settler.unsettled).toBe(1);
  });
});
