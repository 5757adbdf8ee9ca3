/**
 * Revocation notices on the revocation topic (Kafka mode): message key `tenant:subject`, value the
 * notice's JSON (contract/revocation-notice-v1.ts), for verifiers that follow the topic.
 */
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';
import { type Producer, sendChunked } from '../../platform/kafka/client.ts';
import type { NoticeSink } from './sink.ts';

export class KafkaNotices implements NoticeSink {
  readonly sink = 'revocation_hooks';
  private readonly producer: Producer;
  readonly topic: string;

  constructor(producer: Producer, topic: string) {
    this.producer = producer;
    this.topic = topic;
  }

  async publish(notices: RevocationNotice[]): Promise<void> {
    if (notices.length === 0) return;
    await sendChunked(
      this.producer,
      this.topic,
      notices.map((n) => ({ key: `${n.tenant}:${n.subject}`, value: JSON.stringify(n) })),
    );
  }
}
