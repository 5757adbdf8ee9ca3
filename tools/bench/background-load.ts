/**
 * The benign background of the latency benchmarks, produced from a worker thread (traffic.ts starts
 * it): encoding 20,000 events/s with kafkajs keeps an event loop about half busy, and on the
 * benchmark's own loop that would delay the probes' sends and the findings' arrival — time
 * measured against the pipeline that the pipeline never took. On its own thread it still shares
 * the machine's two cores with the service, Kafka and ClickHouse, as the benchmark requires.
 *
 * workerData: { brokers, topic, rate, prefix }; posts { produced } after each send, and stops
 * (posting its last count) when sent 'stop'.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { Kafka, logLevel } from 'kafkajs';
import { Background } from './traffic.ts';

interface LoadData {
  brokers: string[];
  topic: string;
  rate: number;
  prefix: string;
}

const { brokers, topic, rate, prefix } = workerData as LoadData;
const port = parentPort!;
let stop = false;
port.on('message', (m) => {
  if (m === 'stop') stop = true;
});

const producer = new Kafka({ brokers, clientId: 'bench-background', logLevel: logLevel.NOTHING }).producer();
await producer.connect();
const background = new Background(prefix);
let produced = 0;
const tick = 100;
const started = performance.now();
let next = started;
port.postMessage({ produced, connected: true });
while (!stop) {
  const due = Math.round((rate * (performance.now() - started)) / 1000) - produced;
  // at most a second's worth at once: a stalled producer is not made up for in one burst
  const n = Math.min(due, Math.max(1, rate));
  if (n > 0) {
    const messages = background.next(n, Date.now());
    // in requests of at most 1,000 (a catch-up burst in one would pass Kafka's 1 MiB per batch)
    for (let i = 0; i < messages.length; i += 1000)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    produced += n;
    port.postMessage({ produced });
  }
  next += tick;
  const wait = next - performance.now();
  if (wait > 0) await sleep(wait);
}
await producer.disconnect();
port.postMessage({ produced, done: true });
port.close();
