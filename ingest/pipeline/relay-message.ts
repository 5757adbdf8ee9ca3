/**
 * The message a door relays an accepted event as, onto the events topic: keyed `tenant:subject`,
 * the event in its contract form, and its reporter in (signed) headers. The HTTP door in Kafka mode
 * and the Kafka door for bound producers' topics relay alike, so every consumer reads one stream.
 */
import type { OutgoingMessage } from '../../platform/kafka/client.ts';
import { eventKey } from '../../platform/kafka/keys.ts';
import { stringifyWellFormed } from '../../platform/text.ts';
import { reporterHeaders } from './reporter-headers.ts';
import { type NormalizedEvent, toContractEvent } from './validate.ts';

/** `relaySecret`: TOKENWATCH_RELAY_SECRET ('' = headers unsigned). */
export function relayMessage(e: NormalizedEvent, relaySecret: string): OutgoingMessage {
  const value = stringifyWellFormed(toContractEvent(e));
  const headers = reporterHeaders(e.reporter, value, relaySecret);
  return { key: eventKey(e.tenant, e.subject), value, ...(headers !== undefined ? { headers } : {}) };
}
