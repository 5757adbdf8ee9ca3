/**
 * The AsyncAPI 3.0 description of tokenwatch's topics — events in, the detectors' address topic,
 * dead letters, findings and revocation notices out — built from the contract's TypeBox schemas
 * and the settings tables' topic names (their defaults, and the variable that changes each).
 * Written to docs/asyncapi.json by `npm run docs`.
 */
import type { TSchema } from '@sinclair/typebox';
import { DeadLetter } from '../../contract/dead-letter-v1.ts';
import { TokenEvent } from '../../contract/event-v1.ts';
import { Finding } from '../../contract/finding-v1.ts';
import { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { DETECT_SETTINGS } from '../../detectors/settings.ts';
import { INGEST_KAFKA_SETTINGS } from '../../ingest/settings.ts';
import pkg from '../../package.json' with { type: 'json' };
import type { Setting } from '../../platform/settings.ts';
import { RESPONSE_SETTINGS } from '../../response/settings.ts';

interface Topic {
  id: string;
  setting: Setting<unknown>;
  /** the topics are named by the setting's entries (no default name): AsyncAPI's address null */
  named?: string;
  about: string;
  key: string;
  message: string;
  payload: TSchema;
  /** tokenwatch's side: it receives (consumes) or sends (publishes) */
  action: 'receive' | 'send';
}

const TOPICS: Topic[] = [
  {
    id: 'events',
    setting: INGEST_KAFKA_SETTINGS.topics,
    about: 'token events from verifiers and auth servers (contract v1), one JSON object per message',
    key: '`tenant:subject`, partitioned by murmur2 (the Java and kafkajs default; librdkafka clients — Go, C, Python — need `partitioner=murmur2_random`): one subject’s events on one partition; the detectors re-route a message found elsewhere',
    message: 'TokenEvent',
    payload: TokenEvent,
    action: 'receive',
  },
  {
    id: 'producerTopics',
    setting: INGEST_KAFKA_SETTINGS.producerTopics,
    named: 'each bound topic, e.g. acme.verifiers',
    about:
      'a producer’s own topic, bound to one tenant and role (`topic=tenant:role`): events naming another tenant (`tenant_mismatch`) or outside the role (`outside_role`) are dead-lettered, the rest relayed to the events topic with the reporter `topic:<name>` in signed headers; headers a producer writes are ignored',
    key: '`tenant:subject`, as on the events topic',
    message: 'TokenEvent',
    payload: TokenEvent,
    action: 'receive',
  },
  {
    id: 'addresses',
    setting: DETECT_SETTINGS.addressTopic,
    about:
      'the detectors’ own (Kafka mode): events that per-source-IP state reads (rejected verifications), published again keyed by address and consumed by the detectors’ group, so each address has one owner',
    key: '`tenant:ip`',
    message: 'TokenEvent',
    payload: TokenEvent,
    action: 'send',
  },
  {
    id: 'deadLetters',
    setting: INGEST_KAFKA_SETTINGS.deadLetterTopic,
    about: 'inputs tokenwatch refused, with why (also in the dead_letters table)',
    key: 'the tenant',
    message: 'DeadLetter',
    payload: DeadLetter,
    action: 'send',
  },
  {
    id: 'findings',
    setting: DETECT_SETTINGS.findingsTopic,
    about:
      'the detectors’ findings, each with what the response stage decided (also in the detections table)',
    key: '`tenant:subject`',
    message: 'Finding',
    payload: Finding,
    action: 'send',
  },
  {
    id: 'revocations',
    setting: RESPONSE_SETTINGS.revocationsTopic,
    about: 'revocation notices for verifiers’ denylists (also served by GET /v1/revocations)',
    key: '`tenant:subject`',
    message: 'RevocationNotice',
    payload: RevocationNotice,
    action: 'send',
  },
];

/** A TypeBox schema as plain JSON Schema (TypeBox's symbols dropped). */
const plain = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));

export function asyncApi(): Record<string, unknown> {
  const address = (t: Topic) => (t.named !== undefined ? null : String(t.setting.shows).replace(/`/g, ''));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'tokenwatch topics',
      version: pkg.version,
      description:
        'The Kafka topics tokenwatch consumes and publishes. Each address is the default; the variable named changes it (docs/configuration.md).',
    },
    defaultContentType: 'application/json',
    channels: Object.fromEntries(
      TOPICS.map((t) => [
        t.id,
        {
          address: address(t),
          description: `${t.about}. Set by ${t.setting.env}. Message key: ${t.key}.`,
          messages: { [t.message]: { $ref: `#/components/messages/${t.message}` } },
        },
      ]),
    ),
    operations: Object.fromEntries(
      TOPICS.map((t) => [
        `${t.action}${t.id[0]!.toUpperCase()}${t.id.slice(1)}`,
        {
          action: t.action,
          channel: { $ref: `#/channels/${t.id}` },
          messages: [{ $ref: `#/channels/${t.id}/messages/${t.message}` }],
        },
      ]),
    ),
    components: {
      messages: Object.fromEntries(
        TOPICS.map((t) => [
          t.message,
          {
            name: t.message,
            contentType: 'application/json',
            payload: plain(t.payload),
            bindings: { kafka: { key: { type: 'string', description: t.key }, bindingVersion: '0.5.0' } },
          },
        ]),
      ),
    },
  };
}

/** The topics as a markdown table (docs/contract.md). */
export function topicsTable(): string {
  const rows = TOPICS.map(
    (t) =>
      `| ${t.named ?? `\`${String(t.setting.shows).replace(/`/g, '')}\``} (\`${t.setting.env}\`) | ${t.action === 'receive' ? 'consumes' : 'publishes'} | ${t.message} | ${t.key} | ${t.about} |`,
  );
  return ['| topic (variable) | tokenwatch | message | key | what |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}
