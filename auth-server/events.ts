/**
 * Token events in the shape of tokenwatch's event contract v1 (ingest/contract/event-v1.ts):
 * the common fields, the caller's address/agent/device, and the claims of an issued access token.
 * Events carry ids and claims only, never a raw token.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { EventReporter } from './reporter.ts';
import type { IssuedAccessToken } from './tokens.ts';

export type EventType = 'issuance' | 'refresh' | 'revocation';

/** Reports one event of `type` with the common fields filled in (undefined fields are left out). */
export type EmitEvent = (type: EventType, fields: Record<string, unknown>) => void;

export function eventEmitter(reporter: EventReporter, tenant: string, source: string): EmitEvent {
  return (type, fields) =>
    reporter.report({ event_id: randomUUID(), type, time: Date.now(), tenant, source, ...fields });
}

/** Who made the request: address (as trustProxy resolves it), User-Agent, device id (header or body). */
export function callerFields(request: FastifyRequest, bodyDeviceId?: string): Record<string, unknown> {
  const header = request.headers['x-device-id'];
  const deviceId = (typeof header === 'string' && header !== '' ? header : bodyDeviceId) || undefined;
  return {
    ip: request.ip,
    user_agent: request.headers['user-agent']?.slice(0, 1024),
    device_id: deviceId?.slice(0, 256),
  };
}

/** The fields of an access token issued with a grant: its id and its claims. */
export function accessTokenFields({ claims, kid, alg }: IssuedAccessToken): Record<string, unknown> {
  const { jti, iss, aud, iat, exp } = claims;
  return { access_jti: jti, jti, iss, aud, kid, alg, iat, exp };
}
