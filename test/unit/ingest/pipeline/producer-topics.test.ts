import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kafkaOrigin } from '../../../../ingest/pipeline/kafka-origin.ts';
import { parseProducerTopic, parseProducerTopics } from '../../../../ingest/pipeline/producer-topics.ts';
import { REPORTER_ID_HEADER, REPORTER_ROLE_HEADER } from '../../../../ingest/pipeline/reporter-headers.ts';

describe('producer topics (TOKENWATCH_KAFKA_PRODUCER_TOPICS)', () => {
  it('binds a topic to a tenant and a role', () => {
    expect(parseProducerTopic('acme.verifiers=acme:verifier')).toStrictEqual({
      ok: true,
      binding: { topic: 'acme.verifiers', tenant: 'acme', role: 'verifier' },
    });
    expect(parseProducerTopic('acme.auth=acme:auth-server')).toStrictEqual({
      ok: true,
      binding: { topic: 'acme.auth', tenant: 'acme', role: 'auth-server' },
    });
  });

  it('says what is wrong with an entry', () => {
    for (const [entry, says] of [
      ['acme.verifiers', 'must be topic=tenant:role'],
      ['acme.verifiers=acme', 'must be topic=tenant:role'],
      ['acme.verifiers=acme:admin', 'the role must be verifier or auth-server'],
      ['acme.verifiers=acme:', 'the role must be verifier or auth-server'],
      ['acme verifiers=acme:verifier', 'Kafka topic name'],
      ['=acme:verifier', 'Kafka topic name'],
      ['t=:verifier', 'the tenant must be'],
      ['t=a:b:verifier', 'the tenant must be'],
    ] as const) {
      const r = parseProducerTopic(entry);
      expect(r.ok, entry).toBe(false);
      if (!r.ok) expect(r.problem, entry).toContain(says);
    }
  });

  it('refuses a topic bound twice, or a shared events topic bound', () => {
    const problems: string[] = [];
    const b = parseProducerTopics(
      ['a=acme:verifier', 'a=other:auth-server', 'tokenwatch.events=acme:verifier', 'bad'],
      ['tokenwatch.events'],
      problems,
    );
    expect([...b.keys()]).toStrictEqual(['a']);
    expect(b.get('a')?.tenant).toBe('acme');
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toContain('"bad"');
    expect(problems.join('\n')).toContain('binds topic a twice');
    expect(problems.join('\n')).toContain('also a shared events topic');
  });

  it('never throws on hostile entries, and what it accepts is well-formed', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc
            .tuple(
              fc.string({ maxLength: 20 }),
              fc.string({ maxLength: 70 }),
              fc.constantFrom('verifier', 'auth-server', 'x', ''),
            )
            .map(([t, n, r]) => `${t}=${n}:${r}`),
        ),
        (entry) => {
          const r = parseProducerTopic(entry);
          if (!r.ok) {
            expect(r.problem).toContain('topic=tenant:role');
            return;
          }
          expect(r.binding.topic).toMatch(/^[A-Za-z0-9._-]{1,249}$/);
          expect(r.binding.tenant).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
          expect(['verifier', 'auth-server']).toContain(r.binding.role);
          expect(`${r.binding.topic}=${r.binding.tenant}:${r.binding.role}`).toBe(entry);
        },
      ),
    );
  });

  it('on a bound topic, the topic says who reports — never the headers', () => {
    const trust = {
      bindings: parseProducerTopics(['acme.verifiers=acme:verifier'], [], []),
      relaySecret: 'a-relay-secret-of-at-least-32-characters!',
    };
    const forged = { [REPORTER_ID_HEADER]: 'acme:x', [REPORTER_ROLE_HEADER]: 'auth-server' };
    expect(kafkaOrigin('acme.verifiers', { headers: forged, value: Buffer.from('{}') }, trust)).toStrictEqual(
      {
        ok: true,
        ctx: {
          tenant: 'acme',
          tenantOf: 'the producer topic acme.verifiers',
          reporter: { id: 'topic:acme.verifiers', role: 'verifier', door: 'kafka' },
        },
      },
    );
    const shared = kafkaOrigin('tokenwatch.events', { headers: forged, value: Buffer.from('{}') }, trust);
    expect(shared.ok).toBe(false);
    expect(kafkaOrigin('tokenwatch.events', { value: null }, trust)).toStrictEqual({ ok: true, ctx: {} });
  });

  it('refuses a shared-topic message naming no reporter only when told to', () => {
    const trust = { bindings: new Map(), relaySecret: 'a-relay-secret-of-at-least-32-characters!' };
    expect(kafkaOrigin('tokenwatch.events', { value: Buffer.from('{}') }, trust).ok).toBe(true);
    const strict = kafkaOrigin(
      'tokenwatch.events',
      { value: Buffer.from('{}') },
      { ...trust, requireReporter: true },
    );
    expect(strict.ok).toBe(false);
    if (!strict.ok) expect(strict.error.code).toBe('unverified_reporter');
    expect(
      kafkaOrigin(
        'bound',
        { value: null },
        { ...trust, requireReporter: true, bindings: parseProducerTopics(['bound=acme:verifier'], [], []) },
      ).ok,
    ).toBe(true);
  });
});
