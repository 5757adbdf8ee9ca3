/** How to reach Kafka (TOKENWATCH_KAFKA_BROKERS…); which topics each stage uses is the stage's own setting. */
import { setting, type ValuesOf } from '../settings.ts';

export const KAFKA_SETTINGS = {
  brokers: setting.list('TOKENWATCH_KAFKA_BROKERS', [], '`host:port,…`; empty means single-process mode', {
    check: (b) => (/^[^\s:]+:\d{1,5}$/.test(b) ? undefined : 'must be host:port'),
  }),
  clientId: setting.str('TOKENWATCH_KAFKA_CLIENT_ID', 'tokenwatch', 'Kafka client id'),
  topicPartitions: setting.int(
    'TOKENWATCH_KAFKA_TOPIC_PARTITIONS',
    6,
    1,
    10_000,
    'partitions of topics tokenwatch creates; also how many partitions are consumed concurrently',
  ),
  compression: setting.oneOf(
    'TOKENWATCH_KAFKA_COMPRESSION',
    'none',
    ['none', 'gzip'],
    'compression of the record batches tokenwatch produces (consumers decompress either); `gzip` trades CPU for bytes on the wire and on disk',
  ),
  sessionTimeoutMs: setting.int(
    'TOKENWATCH_KAFKA_SESSION_TIMEOUT_MS',
    10_000,
    6000,
    300_000,
    'consumer session timeout (how soon a dead instance’s partitions move)',
  ),
};

export type KafkaSettings = ValuesOf<typeof KAFKA_SETTINGS>;
