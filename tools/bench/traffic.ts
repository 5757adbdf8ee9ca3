/**
 * Traffic the latency benchmarks share: a benign background of many subjects (verifications from
 * their own device and address, rotations now and then) and probes — a refresh token rotated in
 * Berlin, then replayed from São Paulo on another device (refresh_replay, impossible_travel and
 * device_reuse each find it; one family revocation follows).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Kafka } from 'kafkajs';
import type { Detection } from '../../detectors/detection.ts';

const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const HOME_IPS = ['85.214.132.117', '81.2.69.160', '72.229.28.185', '133.242.0.1'];

/** Benign traffic: each subject verifies its current token from its own device and address, and now and then rotates. */
export class Background {
  #i = 0;
  readonly #rotations = new Map<number, number>();

  /** starts every id and subject, so runs on one topic (and one detector state) do not repeat each other */
  readonly prefix: string;

  constructor(prefix = '') {
    this.prefix = prefix;
  }

  next(n: number, nowMs: number): { key: string; value: string }[] {
    const out = [];
    for (let k = 0; k < n; k++) {
      const i = this.#i++;
      const s = i % 50_000;
      const subject = `${this.prefix}bg-${s}`;
      const base = {
        event_id: `${this.prefix}bg-${i}`,
        time: nowMs,
        tenant: 'acme',
        source: `gateway-${i % 8}`,
        subject,
        client_id: 'web',
        ip: HOME_IPS[s % HOME_IPS.length],
        user_agent: UA,
        device_id: `${this.prefix}dev-${s}`,
        session_id: `${this.prefix}sid-${s}`,
      };
      let event: Record<string, unknown>;
      if (i % 10 === 9) {
        const n = this.#rotations.get(s) ?? 0;
        this.#rotations.set(s, n + 1);
        event = {
          ...base,
          type: 'refresh',
          outcome: 'rotated',
          reason: 'ok',
          family_id: `fam-${subject}`,
          token_id: `rt-${subject}-${n}`,
          new_token_id: `rt-${subject}-${n + 1}`,
        };
      } else {
        event = {
          ...base,
          type: 'verification',
          outcome: 'accepted',
          reason: 'ok',
          jti: `jti-${subject}-${Math.floor(i / 500_000)}`,
          iss: 'https://auth.example',
          aud: 'api',
          alg: 'EdDSA',
          exp: Math.floor(nowMs / 1000) + 900,
        };
      }
      out.push({ key: `acme:${subject}`, value: JSON.stringify(event) });
    }
    return out;
  }
}

/** `n` events of the benign background (as `probeUnderLoad` sends them), keyed `tenant:subject`. */
export function backgroundEvents(n: number, prefix: string): { key: string; value: string }[] {
  return new Background(prefix).next(n, Date.now());
}

function probeEvents(k: number, nowMs: number, prefix: string) {
  const base = {
    tenant: 'acme',
    source: 'auth',
    subject: `${prefix}probe-${k}`,
    client_id: 'web',
    family_id: `${prefix}fam-probe-${k}`,
  };
  const rotation = {
    ...base,
    event_id: `${prefix}probe-${k}-rotation`,
    type: 'refresh',
    time: nowMs - 60_000,
    outcome: 'rotated',
    reason: 'ok',
    token_id: `${prefix}p-${k}-0`,
    new_token_id: `${prefix}p-${k}-1`,
    ip: '85.214.132.117',
    device_id: 'laptop',
  };
  const replay = {
    ...rotation,
    event_id: `${prefix}probe-${k}-replay`,
    time: nowMs,
    new_token_id: `${prefix}p-${k}-x`,
    ip: '200.147.67.142',
    device_id: 'attacker',
  };
  return [rotation, replay].map((e) => ({ key: `acme:${e.subject}`, value: JSON.stringify(e) }));
}

/** The events topic and its findings topic of one benchmark run (6 partitions each). */
export async function createRunTopics(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: 6 },
      { topic: `${topic}.findings`, numPartitions: 6 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
}

/** The service's environment for a run in Kafka mode on `topic`. */
export function kafkaModeEnv(
  stack: { clickhouseUrl: string; brokers: string },
  topic: string,
  database: string,
) {
  return {
    TOKENWATCH_CLICKHOUSE_URL: stack.clickhouseUrl,
    TOKENWATCH_CLICKHOUSE_DATABASE: database,
    TOKENWATCH_KAFKA_BROKERS: stack.brokers,
    TOKENWATCH_KAFKA_TOPICS: topic,
    TOKENWATCH_KAFKA_GROUP_ID: `${topic}-ingest`,
    TOKENWATCH_DETECT_GROUP_ID: `${topic}-detect`,
    TOKENWATCH_KAFKA_FINDINGS_TOPIC: `${topic}.findings`,
    TOKENWATCH_KAFKA_TOPIC_PARTITIONS: '6',
  };
}

/** Reads the run's findings topic from the start; resolves to its disconnect. */
export async function followFindings(kafka: Kafka, topic: string, seen: (d: Detection) => void) {
  const findings = kafka.consumer({ groupId: `${topic}-reader`, maxWaitTimeInMs: 20 });
  await findings.connect();
  await findings.subscribe({ topics: [`${topic}.findings`], fromBeginning: true });
  await findings.run({
    eachMessage: async ({ message }) => seen(JSON.parse(message.value!.toString()) as Detection),
  });
  return () => findings.disconnect();
}

export interface ProbeRun {
  /** probe subject → when its replay was produced (ms) */
  sent: Map<string, number>;
  probes: number;
  /** background events/s actually produced while probing */
  achievedRate: number;
}

export interface LoadOptions {
  /** the brokers the background is produced to (from its own thread: background-load.ts) */
  brokers: string[];
  /** background events/s */
  rate: number;
  /** seconds of probes (after the warm-up) */
  seconds: number;
  /** one probe every this many ms; 0: no probes, background only for `seconds` */
  everyMs: number;
  /** starts every id and subject (background and probes; default none): runs sharing a topic stay apart */
  prefix?: string;
}

/** The background produced from a worker thread: its count so far, and its stop. */
async function startBackground(topic: string, o: LoadOptions) {
  const worker = new Worker(new URL('./background-load.ts', import.meta.url), {
    workerData: { brokers: o.brokers, topic, rate: o.rate, prefix: o.prefix ?? '' },
  });
  const state = { produced: 0 };
  const exited = new Promise<void>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`the background load's thread exited with ${code}`)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { produced: number; connected?: boolean }) => {
      state.produced = m.produced;
      if (m.connected === true) resolve();
    });
    exited.then(() => reject(new Error('the background load stopped before it connected')), reject);
  });
  return {
    get produced() {
      return state.produced;
    },
    async stop() {
      worker.postMessage('stop');
      await exited;
    },
  };
}

/**
 * Background traffic at `rate` events/s (5 s of warm-up first), and meanwhile one probe every
 * `everyMs` for `seconds`: its rotation, then half a period later its replay (the time recorded).
 * The background is sent from its own thread every 100 ms, as many events as are due by then (a
 * slow send is caught up on by the next one, so the offered rate holds while the producer keeps up).
 */
export async function probeUnderLoad(kafka: Kafka, topic: string, o: LoadOptions): Promise<ProbeRun> {
  const prefix = o.prefix ?? '';
  const prober = kafka.producer();
  await prober.connect();
  const background = await startBackground(topic, o);
  await sleep(5000);
  const t0 = performance.now();
  const producedAtStart = background.produced;
  const sent = new Map<string, number>();
  const probes = o.everyMs > 0 ? Math.floor((o.seconds * 1000) / o.everyMs) : 0;
  if (probes === 0) await sleep(o.seconds * 1000);
  for (let k = 0; k < probes; k++) {
    const [rotation, replay] = probeEvents(k, Date.now(), prefix);
    await prober.send({ topic, acks: -1, messages: [rotation!] });
    await sleep(o.everyMs / 2);
    sent.set(`${prefix}probe-${k}`, Date.now());
    await prober.send({ topic, acks: -1, messages: [replay!] });
    await sleep(o.everyMs / 2);
  }
  const achievedRate = (background.produced - producedAtStart) / ((performance.now() - t0) / 1000);
  await background.stop();
  await prober.disconnect();
  return { sent, probes, achievedRate };
}

/** Milliseconds from each probe's replay to when `arrived` saw it (probes never seen left out). */
export function latenciesOf(sent: Map<string, number>, arrived: Map<string, number>): number[] {
  return [...sent].flatMap(([subject, at]) => {
    const got = arrived.get(subject);
    return got === undefined ? [] : [got - at];
  });
}
