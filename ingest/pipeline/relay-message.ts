/**
 * The message a door relays an accepted event as, onto the events topic: keyed `tenant:subject`,
 * the event in its contract form (or its own text where that validates to the same event), and its
 * reporter in (signed) headers. The HTTP door in Kafka mode
 * and the Kafka door for bound producers' topics relay alike, so every consumer reads one stream.
 */
import type { OutgoingMessage } from '../../platform/kafka/client.ts';
import { eventKey } from '../../platform/kafka/keys.ts';
import { stringifyWellFormed } from '../../platform/text.ts';
import { reporterHeaders } from './reporter-headers.ts';
import { type NormalizedEvent, toContractEvent } from './validate.ts';

/**
 * `relaySecret`: TOKENWATCH_RELAY_SECRET ('' = headers unsigned). `relayText`: the event's own text
 * where validation found it relayable as it is (ValidationContext.keepRelayText), so it is not
 * encoded a second time; otherwise the contract form is written.
 */
export function relayMessage(e: NormalizedEvent, relaySecret: string, relayText?: string): OutgoingMessage {
  const value = relayText ?? stringifyWellFormed(toContractEvent(e));
  const headers = reporterHeaders(e.reporter, value, relaySecret);
  const message: OutgoingMessage = { key: eventKey(e.tenant, e.subject), value, valueWellFormed: true };
  if (headers !== undefined) message.headers = headers;
  return message;
}
