/**
 * The blast-radius guard and the revocation dedupe shared by every instance (Kafka mode): the I/O
 * around the pure ledger (../decide/ledger.ts). Each claim — a detection asking to revoke a target —
 * is written to one single-partition topic (TOKENWATCH_KAFKA_GUARD_TOPIC), whose order the broker
 * fixes; every instance reads the whole partition into its own replica of the ledger, so every
 * instance computes the same verdict for every claim, and each acts on its own claims' verdicts
 * only. Times are the broker's (the topic stamps LogAppendTime): one clock for all instances.
 *
 * A claim's maker waits for its replica to read the claim back (the cost: one acks=all write and
 * one fetch). When the verdict does not come within TOKENWATCH_GUARD_WAIT_MS the instance cannot
 * know the budget left, so it fails safe: the finding is suppressed (alert only) and on-call is
 * paged once per episode; further claims are not even sent (suppressed at once) until one of the
 * probes it then sends each second comes back. A claim given up on that lands later and takes its
 * target is released, so a later finding may revoke it.
 *
 * At start a replica reads the last REPLAY_MS of the topic (the history every verdict depends on)
 * before the stage decides anything. Nothing is committed that matters: each
 * start reads with a consumer group of its own, deleted on a clean stop.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Metrics } from '../../ingest/metrics.ts';
import {
  type Consumer,
  createConsumer,
  deleteGroup,
  type EachBatchPayload,
  ensureTopic,
  type Kafka,
  type Producer,
  partitionOffsets,
  sendChunked,
  setGroupOffset,
} from '../../platform/kafka/client.ts';
import { keepTrying } from '../../platform/keep-trying.ts';
import type { GuardLimits } from '../decide/guard.ts';
import { type ClaimVerdict, type GuardClaim, GuardLedger, HISTORY_MS, Unanswered } from '../decide/ledger.ts';
import {
  type ClaimRecord,
  encodeRecord,
  GUARD_RECORD_VERSION,
  type GuardRecord,
  parseRecord,
} from './records.ts';

/**
 * How much of the topic a replica reads at start: what the budget's verdicts depend on
 * (HISTORY_MS), and an hour of targets taken, whose outbox rows may not have been visible when
 * this instance read the outbox.
 */
export const REPLAY_MS = Math.max(HISTORY_MS, 3_600_000);

/** The topic as tokenwatch creates it (an existing one is used as it is, if it has one partition). */
export const GUARD_TOPIC_CONFIGS: Record<string, string> = {
  'cleanup.policy': 'delete',
  'retention.ms': String(24 * 3_600_000),
  'segment.ms': String(3_600_000),
  'message.timestamp.type': 'LogAppendTime',
};

const PROBE_EVERY_MS = 1000;
/** Claims given up on, remembered until they land (the oldest forgotten past this many). */
const ABANDONED_CAP = 100_000;

export interface SharedGuardOptions {
  kafka: Kafka;
  producer: Producer;
  topic: string;
  /** this instance's limits: its claims carry them, and are judged by them */
  limits: GuardLimits;
  /** how long a claim waits for its verdict before the finding is suppressed */
  waitMs: number;
  sessionTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
  /** cap of the backoff between retries of a release */
  retryMaxBackoffMs: number;
}

export class SharedGuard {
  /** this instance's replica of the ledger */
  readonly ledger: GuardLedger;
  /** this process among the instances (in its records) */
  readonly instance = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly #o: SharedGuardOptions;
  readonly #groupId: string;
  #consumer: Consumer | undefined;
  /** claim id → the waiter for its verdict (undefined: given up) */
  readonly #waiting = new Map<string, (v: ClaimVerdict | undefined) => void>();
  /** claims given up on: released if they land and take their target */
  readonly #abandoned = new Set<string>();
  readonly #unanswered = new Unanswered();
  /** the next offset to apply */
  #next = 0n;
  /** the end of the partition at start: ready once read up to it */
  #startEnd = 0n;
  #caughtUp = false;
  #running = false;
  /** a claim went unanswered; nothing is waited for until one of this instance's records comes back */
  #degraded = false;
  #probe: NodeJS.Timeout | undefined;
  #closing = false;
  #skipped = 0;

  constructor(o: SharedGuardOptions) {
    this.#o = o;
    this.ledger = new GuardLedger(o.limits);
    this.#groupId = `tokenwatch-guard-${this.instance}`;
  }

  /** Read up to the end of the topic at start, and reading on. */
  get ready(): boolean {
    return this.#running && this.#caughtUp;
  }

  /** false while claims go unanswered (suppressed at once) */
  get answering(): boolean {
    return this.#running && !this.#degraded;
  }

  /** Creates the topic if need be and reads its last REPLAY_MS; resolves once caught up. */
  async start(): Promise<void> {
    const { kafka, topic, log } = this.#o;
    const partitions = await ensureTopic(kafka, topic, { numPartitions: 1, configs: GUARD_TOPIC_CONFIGS });
    if (partitions !== 1)
      throw new Error(
        `TOKENWATCH_KAFKA_GUARD_TOPIC ${topic} has ${partitions} partitions: the shared guard needs exactly one ` +
          '(one order of claims for every instance). Name a new topic (tokenwatch creates it) or recreate it with one partition.',
      );
    const { atTime, end } = await partitionOffsets(kafka, topic, 0, Date.now() - REPLAY_MS);
    this.#next = atTime;
    this.#startEnd = end;
    this.#caughtUp = atTime >= end;
    await setGroupOffset(kafka, this.#groupId, topic, 0, atTime);
    const consumer = createConsumer(kafka, this.#groupId, this.#o.sessionTimeoutMs);
    this.#consumer = consumer;
    consumer.on(consumer.events.CRASH, (e) => {
      log.error(
        { err: e.payload.error.message, restart: e.payload.restart },
        'the shared guard’s reader crashed',
      );
      if (!e.payload.restart) this.#running = false;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => this.#onBatch(payload),
    });
    this.#running = true;
    const started = Date.now();
    let told = started;
    while (!this.#caughtUp) {
      if (!this.#running) throw new Error('the shared guard’s reader stopped before it caught up');
      if (Date.now() - told > 10_000) {
        told = Date.now();
        log.warn(
          { topic, at: String(this.#next), end: String(end), waitedMs: told - started },
          'still reading the shared guard’s topic',
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    log.info(
      { topic, read: String(end - atTime), ms: Date.now() - started, instance: this.instance },
      'shared blast-radius guard ready',
    );
  }

  /**
   * The verdicts on these claims, by detection id: from the log, or a refusal (`unavailable`) for
   * each claim whose verdict did not come in time. A target this replica knows another detection
   * holds is `held` at once, without a claim.
   */
  async claim(claims: readonly GuardClaim[], nowMs: number): Promise<Map<string, ClaimVerdict>> {
    const verdicts = new Map<string, ClaimVerdict>();
    const toSend: GuardClaim[] = [];
    for (const c of claims) {
      const holder = this.ledger.holder(c.revocationId);
      if (holder !== undefined && holder !== c.detectionId)
        verdicts.set(c.detectionId, { kind: 'held', by: holder });
      else toSend.push(c);
    }
    if (toSend.length === 0) return verdicts;
    if (!this.answering) {
      for (const c of toSend) verdicts.set(c.detectionId, this.#unanswered.verdict(nowMs));
      this.#probeUntilAnswered();
      return verdicts;
    }
    const { limits, waitMs, log } = this.#o;
    const records: ClaimRecord[] = toSend.map((c) => ({
      v: GUARD_RECORD_VERSION,
      type: 'claim',
      claim_id: randomBytes(12).toString('hex'),
      instance: this.instance,
      tenant: c.tenant,
      revocation_id: c.revocationId,
      detection_id: c.detectionId,
      tenant_limit: limits.perTenantPerMinute,
      total_limit: limits.totalPerMinute,
      tenant_reserve: limits.reservedPerTenant ?? 0,
      ...(limits.windowMs !== undefined ? { window_ms: limits.windowMs } : {}),
    }));
    const started = performance.now();
    const answers = records.map(
      (r) => new Promise<ClaimVerdict | undefined>((resolve) => this.#waiting.set(r.claim_id, resolve)),
    );
    // A failed write shows as no answer; a write that lands late is released (#onClaim).
    this.#send(records).catch((err: Error) => log.warn({ err: err.message }, 'writing guard claims failed'));
    const timer = setTimeout(() => {
      for (const r of records) {
        const waiter = this.#waiting.get(r.claim_id);
        if (waiter === undefined) continue;
        this.#waiting.delete(r.claim_id);
        this.#abandon(r.claim_id);
        waiter(undefined);
      }
    }, waitMs);
    const got = await Promise.all(answers);
    clearTimeout(timer);
    let unanswered = 0;
    records.forEach((r, i) => {
      const v = got[i];
      if (v === undefined) unanswered++;
      verdicts.set(r.detection_id, v ?? this.#unanswered.verdict(nowMs));
    });
    if (unanswered === 0) {
      this.#o.metrics.guardClaimSeconds.observe((performance.now() - started) / 1000);
    } else {
      if (!this.#degraded)
        log.error(
          { topic: this.#o.topic, unanswered, waitMs },
          'the shared guard did not answer in time: revocations are suppressed (alert only) until it does',
        );
      this.#degraded = true;
      this.#probeUntilAnswered();
    }
    return verdicts;
  }

  /** How many of a tenant's claims made now would pass the budget, as this replica has read it. */
  room(tenant: string, nowMs: number): number {
    return this.answering ? this.ledger.room(tenant, nowMs) : 0;
  }

  /** Scopes refused within the last window, by any instance (for the gauge). */
  tripped(nowMs: number): { tenants: number; total: boolean } {
    return this.ledger.tripped(nowMs);
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#probe);
    for (const waiter of this.#waiting.values()) waiter(undefined);
    this.#waiting.clear();
    await this.#consumer?.disconnect().catch(() => undefined);
    this.#running = false;
    await deleteGroup(this.#o.kafka, this.#groupId).catch(() => undefined);
  }

  #send(records: GuardRecord[]): Promise<void> {
    return sendChunked(this.#o.producer, this.#o.topic, records.map(encodeRecord));
  }

  async #onBatch({ batch }: EachBatchPayload): Promise<void> {
    for (const m of batch.messages) {
      const offset = BigInt(m.offset);
      if (offset < this.#next) continue; // read again after the reader rejoined
      this.#next = offset + 1n;
      const r = parseRecord(m.value);
      if (r === undefined) this.#skip(offset);
      else this.#apply(r, Number(m.timestamp));
    }
    if (!this.#caughtUp && this.#next >= this.#startEnd) this.#caughtUp = true;
  }

  #apply(r: GuardRecord, atMs: number) {
    if (r.instance === this.instance && this.#degraded) {
      this.#degraded = false;
      this.#o.log.info({ topic: this.#o.topic }, 'the shared guard answers again');
    }
    if (r.type === 'release') {
      this.ledger.release({ revocationId: r.revocation_id, detectionId: r.detection_id }, atMs);
    } else if (r.type === 'claim') {
      const verdict = this.ledger.apply(
        { tenant: r.tenant, revocationId: r.revocation_id, detectionId: r.detection_id },
        atMs,
        {
          perTenantPerMinute: r.tenant_limit,
          totalPerMinute: r.total_limit,
          reservedPerTenant: r.tenant_reserve ?? 0,
          ...(r.window_ms !== undefined ? { windowMs: r.window_ms } : {}),
        },
        r.claim_id,
      );
      const waiter = this.#waiting.get(r.claim_id);
      if (waiter !== undefined) {
        this.#waiting.delete(r.claim_id);
        waiter(verdict);
      } else if (this.#abandoned.delete(r.claim_id) && verdict.kind === 'allowed') {
        this.#release(r);
      }
    }
  }

  /** A claim given up on took its target: free it (retried until written; the finding was suppressed). */
  #release(r: ClaimRecord) {
    const record: GuardRecord = {
      v: GUARD_RECORD_VERSION,
      type: 'release',
      claim_id: r.claim_id,
      instance: this.instance,
      revocation_id: r.revocation_id,
      detection_id: r.detection_id,
    };
    void keepTrying(() => this.#send([record]), {
      what: 'a guard release',
      log: this.#o.log,
      closing: () => this.#closing,
      maxBackoffMs: this.#o.retryMaxBackoffMs,
    }).catch((err: Error) =>
      this.#o.log.error(
        { err: err.message, revocation: r.revocation_id },
        'a guard release was not written: the target stays taken for an hour',
      ),
    );
  }

  #abandon(claimId: string) {
    this.#abandoned.add(claimId);
    if (this.#abandoned.size > ABANDONED_CAP) this.#abandoned.delete(this.#abandoned.values().next().value!);
  }

  /** While claims go unanswered, a probe a second: the first to come back ends it. */
  #probeUntilAnswered() {
    if (this.#probe !== undefined || this.#closing) return;
    this.#probe = setInterval(() => {
      if (this.answering || this.#closing) {
        clearInterval(this.#probe);
        this.#probe = undefined;
        return;
      }
      const probe: GuardRecord = {
        v: GUARD_RECORD_VERSION,
        type: 'probe',
        claim_id: randomBytes(12).toString('hex'),
        instance: this.instance,
      };
      this.#send([probe]).catch(() => undefined);
    }, PROBE_EVERY_MS);
    this.#probe.unref();
  }

  #skip(offset: bigint) {
    if (this.#skipped++ % 1000 === 0)
      this.#o.log.warn(
        { topic: this.#o.topic, offset: String(offset), skipped: this.#skipped },
        'a record on the guard topic is not a guard record: skipped (only tokenwatch may write this topic)',
      );
  }
}
