/** untilServed: retries a new topic's probe only while its partitions are not served, and not forever. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { isNotServedYet, untilServed } from '../../../../platform/kafka/until-served.ts';

const notServed = (type: string) =>
  Object.assign(new Error('This server does not host this topic-partition'), { type });

function clock() {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
  };
}

describe('untilServed', () => {
  const log = pino({ level: 'silent' });

  it('retries while the partitions are not served, then resolves', async () => {
    const c = clock();
    const answers = [notServed('UNKNOWN_TOPIC_OR_PARTITION'), notServed('LEADER_NOT_AVAILABLE')];
    let calls = 0;
    await untilServed(
      async () => {
        calls++;
        const e = answers.shift();
        if (e !== undefined) throw e;
      },
      { topics: ['events'], log, timeoutMs: 30_000, now: c.now, sleep: c.sleep },
    );
    expect(calls).toBe(3);
    expect(c.slept).toHaveLength(2);
    for (const ms of c.slept) expect(ms).toBeGreaterThan(0);
  });

  it('throws any other error at once', async () => {
    const c = clock();
    const refused = Object.assign(new Error('not authorized'), { type: 'TOPIC_AUTHORIZATION_FAILED' });
    await expect(
      untilServed(
        async () => {
          throw refused;
        },
        { topics: ['events'], log, timeoutMs: 30_000, now: c.now, sleep: c.sleep },
      ),
    ).rejects.toBe(refused);
    expect(c.slept).toEqual([]);
  });

  it('gives up at the deadline, naming the topics and the last error', async () => {
    const c = clock();
    const waiting = untilServed(
      async () => {
        throw notServed('UNKNOWN_TOPIC_OR_PARTITION');
      },
      { topics: ['events', 'findings'], log, timeoutMs: 5000, now: c.now, sleep: c.sleep },
    );
    await expect(waiting).rejects.toThrow(
      /events, findings were still not served after 5000 ms \(This server does not host/,
    );
    expect(c.slept.reduce((a, b) => a + b, 0)).toBe(5000);
  });

  it('sees the error kafkajs wrapped after its own retries', () => {
    const wrapped = Object.assign(new Error('Number of retries exceeded'), {
      originalError: notServed('UNKNOWN_TOPIC_OR_PARTITION'),
    });
    expect(isNotServedYet(wrapped)).toBe(true);
    expect(isNotServedYet(new Error('connection refused'))).toBe(false);
    expect(isNotServedYet(undefined)).toBe(false);
  });
});
