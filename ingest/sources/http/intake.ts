/**
 * Where the HTTP door sends what it validated. Without Kafka (single process) events go straight to
 * the batcher; with Kafka they are published on the events topic so every consumer sees one stream.
 * Either way `accept` resolves only once the events are durable (stored, or acknowledged by Kafka).
 */

import { type OutgoingMessage, type Producer, sendChunked } from '../../../platform/kafka/client.ts';
import { forEachInSlices } from '../../../platform/slices.ts';
import type { Batcher } from '../../pipeline/batcher.ts';
import { relayMessage } from '../../pipeline/relay-message.ts';
import type { DeadLetterRow, EventRow } from '../../pipeline/rows.ts';
import type { Stage } from '../../pipeline/stage.ts';
import type { NormalizedEvent } from '../../pipeline/validate.ts';
import type { DeadLetterTopic } from '../../sink/dead-letter-topic.ts';

export interface Intake {
  /** it relays events to the events topic: validation keeps their relayable texts for it (keepRelayText) */
  readonly relays?: boolean;
  /**
   * `tenant`: whose request it is (its share of the insert buffer); `relayTexts`: beside `events`,
   * each one's relayable text where validation kept one (ValidationResult.relayText)
   */
  accept(
    events: NormalizedEvent[],
    deadLetters: DeadLetterRow[],
    receivedMs: number,
    tenant?: string,
    relayTexts?: readonly (string | undefined)[],
  ): Promise<void>;
}

export class UnavailableError extends Error {
  readonly code = 'ERR_TOKENWATCH_UNAVAILABLE';
}

export class DirectIntake implements Intake {
  private readonly stage: Stage;
  private readonly batcher: Batcher;
  private readonly ackTimeoutMs: number;
  private readonly observe: ((rows: EventRow[]) => void) | undefined;

  /** `observe` sees every accepted event as it is taken (the in-process detectors). */
  constructor(stage: Stage, batcher: Batcher, ackTimeoutMs: number, observe?: (rows: EventRow[]) => void) {
    this.stage = stage;
    this.batcher = batcher;
    this.ackTimeoutMs = ackTimeoutMs;
    this.observe = observe;
  }

  /** Resolves once stored; after ackTimeoutMs answers Unavailable (the rows stay queued and are stored later). */
  async accept(
    events: NormalizedEvent[],
    deadLetters: DeadLetterRow[],
    receivedMs: number,
    tenant?: string,
  ): Promise<void> {
    const rows = await this.stage.enrichAll(events, receivedMs, 'http', deadLetters);
    this.observe?.(rows);
    const stored = this.batcher.submit(rows, deadLetters, {
      urgent: true,
      ...(tenant !== undefined ? { tenant } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UnavailableError(
              `ClickHouse has not stored the events within ${this.ackTimeoutMs} ms (TOKENWATCH_HTTP_ACK_TIMEOUT_MS)`,
            ),
          ),
        this.ackTimeoutMs,
      );
    });
    stored.catch(() => undefined);
    try {
      await Promise.race([stored, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export class KafkaIntake implements Intake {
  readonly relays = true;
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly batcher: Batcher;
  private readonly deadLetterTopic: DeadLetterTopic;
  private readonly relaySecret: string;

  /** `relaySecret`: TOKENWATCH_RELAY_SECRET, signing each event's reporter headers ('' = unsigned) */
  constructor(
    producer: Producer,
    topic: string,
    batcher: Batcher,
    deadLetterTopic: DeadLetterTopic,
    relaySecret = '',
  ) {
    this.relaySecret = relaySecret;
    this.producer = producer;
    this.topic = topic;
    this.batcher = batcher;
    this.deadLetterTopic = deadLetterTopic;
  }

  async accept(
    events: NormalizedEvent[],
    deadLetters: DeadLetterRow[],
    _receivedMs: number,
    tenant?: string,
    relayTexts?: readonly (string | undefined)[],
  ): Promise<void> {
    const stored = this.batcher.submit([], deadLetters, tenant !== undefined ? { tenant } : {});
    const messages: OutgoingMessage[] = [];
    await forEachInSlices(events, (e, i) => {
      messages.push(relayMessage(e, this.relaySecret, relayTexts?.[i]));
    });
    await Promise.all([this.#publish(messages), stored]);
    await this.deadLetterTopic.publish(deadLetters);
  }

  async #publish(messages: OutgoingMessage[]) {
    try {
      await sendChunked(this.producer, this.topic, messages);
    } catch (err) {
      throw new UnavailableError(
        `could not publish events to Kafka topic ${this.topic}: ${(err as Error).message}`,
      );
    }
  }
}
