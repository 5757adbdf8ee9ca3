/**
 * Who a consumed Kafka message comes from, as the validation context takes it: on a topic bound to a
 * producer (`TOKENWATCH_KAFKA_PRODUCER_TOPICS`), the topic's tenant and role — whatever its headers
 * say; on a shared topic (the events log, the detectors' address topic), the reporter its relay
 * headers name when they are believed (reporter-headers.ts), or none. A message signed by the relay
 * secret is one tokenwatch's door validated already: its context says so (`signedRelay`), and it is
 * validated for what that cannot vouch for only (validateRelayedText).
 */
import { type ProducerBinding, topicReporterId } from './producer-topics.ts';
import { reporterFromHeaders } from './reporter-headers.ts';
import type { EventError, ValidationContext } from './validate.ts';

/** What the consumers trust on Kafka: the bound producers' topics and the relay's signing secret. */
export interface KafkaTrust {
  bindings: ReadonlyMap<string, ProducerBinding>;
  /** '' = relay headers are not signed, and believed as they are */
  relaySecret: string;
  /** refuse shared-topic messages that name no (signed) reporter: every producer has a bound topic */
  requireReporter?: boolean;
}

export const NO_KAFKA_TRUST: KafkaTrust = { bindings: new Map(), relaySecret: '' };

type Headers = Parameters<typeof reporterFromHeaders>[0];

/** The context to validate a message with, or why the message is refused before it is read. */
export function kafkaOrigin(
  topic: string,
  message: { headers?: Headers; value: Buffer | null },
  trust: KafkaTrust,
): { ok: true; ctx: Omit<ValidationContext, 'nowMs'> } | { ok: false; error: EventError } {
  const bound = trust.bindings.get(topic);
  if (bound !== undefined)
    return {
      ok: true,
      ctx: {
        tenant: bound.tenant,
        tenantOf: `the producer topic ${topic}`,
        reporter: { id: topicReporterId(topic), role: bound.role, door: 'kafka' },
      },
    };
  const named = reporterFromHeaders(message.headers, message.value ?? '', trust.relaySecret);
  if (!named.ok) return named;
  if (named.reporter === undefined && trust.requireReporter === true)
    return {
      ok: false,
      error: {
        code: 'unverified_reporter',
        message: `the message on the shared topic ${topic} names no reporter, and TOKENWATCH_KAFKA_REQUIRE_REPORTER refuses those: a producer writes to its bound topic (TOKENWATCH_KAFKA_PRODUCER_TOPICS), never to the shared one`,
      },
    };
  // Signed: tokenwatch's relay validated this very value (see validateRelayedText for what is still checked).
  if (named.signed === true && named.reporter !== undefined)
    return { ok: true, ctx: { reporter: named.reporter, signedRelay: true } };
  return { ok: true, ctx: named.reporter !== undefined ? { reporter: named.reporter } : {} };
}
