/**
 * What the Kafka door hands a second reader of its consumer (the detectors in Kafka mode): each
 * events batch once validated and enriched, the consumer's assignments with what may pause, seek and
 * resume its partitions, and the batches of the reader's own topics as they come. The door commits a
 * partition's offsets only when its rows are stored and the reader has finished the batch, so one
 * fetch, one decode and one validation per event serve both.
 */
import type { EachBatchPayload } from '../../platform/kafka/client.ts';
import type { EventRow } from '../pipeline/rows.ts';
import type { ValidationContext } from '../pipeline/validate.ts';

type KafkaMessage = EachBatchPayload['batch']['messages'][number];

/** One message of an events batch that passed validation and enrichment. */
export interface ValidatedMessage {
  message: KafkaMessage;
  /** its body as read (what a copy sent on carries) */
  text: string;
  /** who reported it, as its headers (or its bound topic) say */
  reporter: ValidationContext['reporter'];
  row: EventRow;
}

export interface ValidatedBatch {
  topic: string;
  partition: number;
  /** the offset after the batch's last message */
  next: bigint;
  receivedMs: number;
  valid: ValidatedMessage[];
  /** Kafka's lag of the partition after this batch */
  lag: number;
}

/** The consumer's partitions, as far as a tap may steer them (while it rebuilds their state). */
export interface PartitionControl {
  pause(topics: { topic: string; partitions: number[] }[]): void;
  resume(topics: { topic: string; partitions: number[] }[]): void;
  seek(at: { topic: string; partition: number; offset: string }): void;
}

export interface KafkaTap {
  /** topics the tap reads alone (never stored by the door) */
  readonly ownTopics: readonly string[];
  /** ready: every assigned partition's state rebuilt */
  readonly ready: boolean;
  /** told of each assignment of the consumer (the whole of it) */
  onAssignment(assignment: Record<string, number[]>, control: PartitionControl): void;
  /**
   * Whether the door may take this batch now (false: the partition is being prepared or not ours;
   * the door skips it, stores nothing and commits nothing), and the first offset it stores: before
   * it, events were stored already and are re-read for the tap alone.
   */
  admit(topic: string, partition: number, isStale: () => boolean): { take: boolean; storeFrom?: bigint };
  /**
   * An events batch: resolves once what it found is stored and published, with whether the door may
   * commit `next` (false while the batch lies before an offset committed already).
   */
  take(batch: ValidatedBatch): Promise<boolean>;
  /** A batch of one of its own topics: resolves, like take, once done. */
  takeOwn(payload: EachBatchPayload): Promise<boolean>;
}
