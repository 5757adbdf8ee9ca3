/**
 * Tenant- and role-bound Kafka producers: `TOKENWATCH_KAFKA_PRODUCER_TOPICS` entries
 * `topic=tenant:role` give each producer a topic of its own, whose write ACL is its identity. An
 * event read from a bound topic must name the topic's tenant and stay within its role, exactly as
 * an HTTP key's events; its reporter is `topic:<name>`. Pure parsing; never throws.
 */
import { REPORTER_ROLES, type ReporterRole } from '../../platform/http/api-keys.ts';

/** What one bound topic's producer is: the only tenant it may name and what it may report. */
export interface ProducerBinding {
  topic: string;
  tenant: string;
  role: ReporterRole;
}

export const PRODUCER_TOPICS_ENV = 'TOKENWATCH_KAFKA_PRODUCER_TOPICS';

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
/** the contract's tenant */
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
const ROLES: ReadonlySet<string> = new Set(REPORTER_ROLES);

/** One entry, or what is wrong with it and what to write instead. */
export function parseProducerTopic(
  entry: string,
): { ok: true; binding: ProducerBinding } | { ok: false; problem: string } {
  const shape = 'must be topic=tenant:role (role verifier or auth-server), e.g. acme.verifiers=acme:verifier';
  const eq = entry.indexOf('=');
  const topic = eq < 0 ? entry : entry.slice(0, eq);
  const rest = eq < 0 ? '' : entry.slice(eq + 1);
  const colon = rest.lastIndexOf(':');
  const tenant = colon < 0 ? rest : rest.slice(0, colon);
  const role = colon < 0 ? '' : rest.slice(colon + 1);
  if (eq < 0 || colon < 0) return { ok: false, problem: shape };
  if (!TOPIC.test(topic))
    return { ok: false, problem: `${shape}: the topic must be a Kafka topic name (A-Z a-z 0-9 . _ -)` };
  if (!TENANT.test(tenant))
    return {
      ok: false,
      problem: `${shape}: the tenant must be 1-64 characters A-Z a-z 0-9 . _ - (the contract's tenant)`,
    };
  if (!ROLES.has(role)) return { ok: false, problem: `${shape}: the role must be verifier or auth-server` };
  return { ok: true, binding: { topic, tenant, role: role as ReporterRole } };
}

/**
 * The bindings of a list of entries, by topic; a topic bound twice, or also one of the shared
 * topics (`shared`: consumed as the events log, where reporters are told by signed headers), is a problem.
 */
export function parseProducerTopics(
  entries: readonly string[],
  shared: readonly string[],
  problems: string[],
): Map<string, ProducerBinding> {
  const out = new Map<string, ProducerBinding>();
  for (const entry of entries) {
    const parsed = parseProducerTopic(entry);
    if (!parsed.ok) {
      problems.push(`${PRODUCER_TOPICS_ENV} entry ${JSON.stringify(entry)} ${parsed.problem}`);
      continue;
    }
    const { topic } = parsed.binding;
    if (out.has(topic))
      problems.push(
        `${PRODUCER_TOPICS_ENV} binds topic ${topic} twice: bind each topic to one tenant and role`,
      );
    else if (shared.includes(topic))
      problems.push(
        `${PRODUCER_TOPICS_ENV} binds ${topic}, which is also a shared events topic (TOKENWATCH_KAFKA_TOPICS / TOKENWATCH_KAFKA_PUBLISH_TOPIC): give the producer a topic of its own`,
      );
    else out.set(topic, parsed.binding);
  }
  return out;
}

/** The reporter id of a bound topic's events. */
export const topicReporterId = (topic: string) => `topic:${topic}`;
