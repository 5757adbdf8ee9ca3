/**
 * Revocation notices: every revocation tokenwatch decides is published for verifiers' denylists the
 * moment it is decided — before the auth server has answered — so a stolen access token is refused
 * everywhere within a second. Two sinks: the `revocation_notices` table that GET /v1/revocations
 * serves (always: clickhouse-notices.ts) and, in Kafka mode, the revocation topic (kafka-notices.ts).
 */
import type { RevocationNotice } from '../../contract/revocation-notice-v1.ts';

/** One place notices go; the revoker publishes to each on its own, retrying each until it takes them. */
export interface NoticeSink {
  /** names the sink in metrics (`sink` label) and logs */
  readonly sink: string;
  publish(notices: RevocationNotice[]): Promise<void>;
}
