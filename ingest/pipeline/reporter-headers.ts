/**
 * Who reported an event, across Kafka: the HTTP door in Kafka mode relays events it accepted to the
 * events topic with their reporter (the key's id and role) in message headers, and the consumers
 * (ingest, detectors) take it back. A header names a role the relayed event was already checked
 * against. A message without these headers (a producer writing to the topic itself) has no known
 * reporter and keeps the rights of a key without a role; binding producers to a tenant and role is
 * the Kafka door's own concern.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { REPORTER_ROLES, type ReporterRole } from '../../platform/http/api-keys.ts';
import { cut } from '../../platform/text.ts';
import type { Reporter } from './validate.ts';

export const REPORTER_ID_HEADER = 'tokenwatch-reporter-id';
export const REPORTER_ROLE_HEADER = 'tokenwatch-reporter-role';

const ROLES: ReadonlySet<string> = new Set(REPORTER_ROLES);

/** The headers of a relayed event (none when its reporter is unknown). */
export function reporterHeaders(r: Reporter | undefined): Record<string, string> | undefined {
  if (r === undefined || (r.id === '' && r.role === '')) return undefined;
  return { [REPORTER_ID_HEADER]: r.id, [REPORTER_ROLE_HEADER]: r.role };
}

type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined> | IncomingHttpHeaders;

const text = (v: unknown): string => {
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined || one === null ? '' : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/** The reporter a consumed message's headers name, for the validation context; undefined when none. */
export function reporterFromHeaders(headers: KafkaHeaders | undefined): Reporter | undefined {
  if (headers === undefined) return undefined;
  const id = cut(text(headers[REPORTER_ID_HEADER]), 128);
  const rawRole = text(headers[REPORTER_ROLE_HEADER]);
  const role: ReporterRole | '' = ROLES.has(rawRole) ? (rawRole as ReporterRole) : '';
  if (id === '' && role === '') return undefined;
  return { id, role, door: 'http' };
}
