/**
 * The message keys tokenwatch partitions by, and whether a message sits where its key puts it.
 * Events are keyed `tenant:subject` (one subject's events on one partition, so the detectors' state
 * per subject lives with one member of their group); the detectors re-key what per-address state
 * reads by `tenant:ip` onto their address topic. "Where its key puts it" is murmur2 of the key
 * modulo the partition count — kafkajs' and the Java client's default partitioner, the one the
 * detectors' ownership of a subject is computed with (partitionOfKey).
 */
import { partitionOfKey } from './client.ts';

/** The key of an event: `tenant:subject` (at most 64 + 1 + 256 characters: never cut). */
export const eventKey = (tenant: string, subject: string) => `${tenant}:${subject}`;

/** The key of an event on the detectors' address topic: `tenant:ip`. */
export const addressKey = (tenant: string, ip: string) => `${tenant}:${ip}`;

/** The header a re-routed copy carries (the original's topic/partition/offset): it is re-routed once, never twice. */
export const REROUTED_HEADER = 'tokenwatch-rerouted';

/**
 * Why a message is not on the partition its body's key puts it on — `missing_key` (a null or empty
 * key: spread round-robin or at random), `wrong_key` (a key that is not the body's, e.g. the subject
 * alone), `other_partitioner` (the right key hashed another way, e.g. librdkafka's default CRC32 of
 * the Go and C clients) — or undefined when it is where it belongs.
 */
export type Misrouting = 'missing_key' | 'wrong_key' | 'other_partitioner';

export const MISROUTINGS: readonly Misrouting[] = ['missing_key', 'wrong_key', 'other_partitioner'];

export function misrouting(
  message: { key: string | undefined; partition: number },
  expectedKey: string,
  partitions: number,
): Misrouting | undefined {
  if (message.partition === partitionOfKey(expectedKey, partitions)) return undefined;
  if (message.key === undefined || message.key === '') return 'missing_key';
  return message.key === expectedKey ? 'other_partitioner' : 'wrong_key';
}
