/**
 * The dead letter v1: an input tokenwatch could not take, and why — on the dead-letter topic (Kafka:
 * key the tenant, value this JSON) and in the `dead_letters` table. The payload is the input as it
 * came, truncated to TOKENWATCH_DEAD_LETTER_PAYLOAD_BYTES.
 */
import { type Static, Type } from '@sinclair/typebox';

export const DEAD_LETTER_DOORS = ['http', 'kafka', 'clickhouse'] as const;

export const DeadLetter = Type.Object(
  {
    letter_id: Type.String(),
    received_at: Type.Integer({ description: 'when it arrived (epoch seconds)' }),
    received_ms: Type.Integer({ description: 'when it arrived (epoch ms)' }),
    door: Type.Union(
      DEAD_LETTER_DOORS.map((d) => Type.Literal(d)),
      { description: 'where it came in (clickhouse: refused by the database)' },
    ),
    tenant: Type.String(),
    origin: Type.String({
      description:
        'client address (HTTP), topic/partition/offset (Kafka), `enrichment`, or the ClickHouse insert that refused it',
    }),
    event_index: Type.Integer({ description: 'its index in the request (-1: the whole body)' }),
    event_id: Type.String({ description: 'its event_id when it had a readable one' }),
    code: Type.String({ description: 'why it was refused (the per-event error codes of POST /v1/events)' }),
    message: Type.String(),
    field: Type.String({ description: 'the field at fault, as a JSON pointer, when there is one' }),
    payload: Type.String(),
    payload_bytes: Type.Integer({ description: 'its size before truncation' }),
    truncated: Type.Integer({ minimum: 0, maximum: 1 }),
  },
  { title: 'dead letter v1', additionalProperties: false },
);
export type DeadLetterV1 = Static<typeof DeadLetter>;
