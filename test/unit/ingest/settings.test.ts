import { describe, expect, it } from 'vitest';
import { readIngestSettings } from '../../../ingest/settings.ts';

describe('ingest settings: producer topics and the relay secret', () => {
  it('reads the bindings by topic', () => {
    const problems: string[] = [];
    const s = readIngestSettings(
      {
        TOKENWATCH_KAFKA_PRODUCER_TOPICS: 'acme.verifiers=acme:verifier, acme.auth=acme:auth-server',
        TOKENWATCH_RELAY_SECRET: 'x'.repeat(32),
      },
      problems,
    );
    expect(problems).toEqual([]);
    expect(s.kafka.bindings.get('acme.auth')).toEqual({
      topic: 'acme.auth',
      tenant: 'acme',
      role: 'auth-server',
    });
    expect(s.kafka.relaySecret).toBe('x'.repeat(32));
  });

  it('refuses a short secret (never echoing it) and a shared topic bound', () => {
    const problems: string[] = [];
    readIngestSettings(
      {
        TOKENWATCH_KAFKA_TOPICS: 'tokenwatch.events',
        TOKENWATCH_KAFKA_PRODUCER_TOPICS: 'tokenwatch.events=acme:verifier',
        TOKENWATCH_RELAY_SECRET: 'short-secret-value',
      },
      problems,
    );
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toContain('also a shared events topic');
    expect(problems.join('\n')).toContain('TOKENWATCH_RELAY_SECRET must be at least 32 characters (got 18)');
    expect(problems.join('\n')).not.toContain('short-secret-value');
  });
});
