import fc from 'fast-check';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, murmur2Partition } from '../../../../platform/kafka/murmur2.ts';

const kafkajsPartitioner = Partitioners.DefaultPartitioner();
const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
    offlineReplicas: [],
  }));
const kafkajsPartition = (key: string, n: number) =>
  kafkajsPartitioner({ topic: 't', partitionMetadata: metadata(n), message: { key, value: null } });

describe('murmur2', () => {
  it('gives the Java client’s values (acme:alice → 1432927490 made positive; the empty key)', () => {
    expect(murmur2('acme:alice') & 0x7fffffff).toBe(1432927490);
    expect(murmur2Partition('acme:alice', 7)).toBe(1432927490 % 7);
    for (const key of ['', 'a', 'ab', 'abc', 'abcd', 'é', '😀', '\uD800', 'x'.repeat(5000)])
      for (const n of [1, 6, 7])
        expect(murmur2Partition(key, n), `${JSON.stringify(key.slice(0, 8))} of ${n}`).toBe(
          kafkajsPartition(key, n),
        );
  });

  it('places every key, ASCII or not, well-formed or not, where kafkajs’ default partitioner does', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: 'grapheme', maxLength: 100 }),
        ),
        fc.integer({ min: 1, max: 1000 }),
        (key, n) => {
          expect(murmur2Partition(key, n)).toBe(kafkajsPartition(key, n));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
