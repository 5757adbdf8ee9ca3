/**
 * Revocation notices: every revocation tokenwatch decides is published for verifiers' denylists
 * the moment it is decided — before the auth server has answered — so a stolen access token is
 * refused everywhere within a second. A family or session revocation is followed by one notice per
 * linked access token (`via` names the revocation). Two sinks: the `revocation_notices` table that
 * GET /v1/revocations serves (always; notice-store.ts) and, in Kafka mode, the revocation hook
 * topic here: message key `tenant:subject`, value JSON (response/README.md, "Revocation notices").
 */
import { type Producer, sendChunked } from '../platform/kafka/client.ts';
import type { RevocationTarget } from './policy.ts';

export interface RevocationNotice {
  version: 1;
  revocation_id: string;
  tenant: string;
  subject: string;
  target: RevocationTarget;
  id: string;
  /** a denylist may drop the entry after this (epoch ms) */
  expires_at_ms: number;
  revoked_at_ms: number;
  detection_id: string;
  detector: string;
  /** for a linked access token: the family or session revocation that covers it */
  via?: { target: RevocationTarget; id: string };
}

/** One place notices go; the revoker publishes to each on its own, retrying each until it takes them. */
export interface RevocationHooks {
  /** names the sink in metrics (`sink` label) and logs */
  readonly sink: string;
  publish(notices: RevocationNotice[]): Promise<void>;
}

export class KafkaRevocationHooks implements RevocationHooks {
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
