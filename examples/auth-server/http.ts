/**
 * HTTP helpers shared by the routes: OAuth-style errors (`{ error, error_description }`, RFC 6749
 * §5.2 / RFC 6750 §3), bearer tokens, client authentication (HTTP Basic or body, RFC 6749 §2.3.1),
 * constant-time secret comparison, and the error handler that renders all of them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Client } from './config.ts';

export interface HttpError extends Error {
  statusCode: number;
  error: string;
  headers: Record<string, string>;
}

export function httpError(
  statusCode: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): HttpError {
  return Object.assign(new Error(description), { statusCode, error, headers });
}

/** An RFC 6750 WWW-Authenticate challenge; only the realm when `error` is undefined (no token sent). */
export function bearerChallenge(error?: string, description = ''): Record<string, string> {
  const detail =
    error === undefined
      ? ''
      : `, error="${error}", error_description="${description.replace(/["\\]/g, "'")}"`;
  return { 'www-authenticate': `Bearer realm="auth-server"${detail}` };
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer +(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** Equal strings, compared in constant time (through fixed-length hashes). */
export function secretsEqual(given: string, expected: string): boolean {
  const hash = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(hash(given), hash(expected));
}

/** The configured client the request authenticates as; throws 401 invalid_client otherwise. */
export function authenticateClient(
  request: FastifyRequest,
  body: { client_id?: string; client_secret?: string },
  clients: Client[],
): Client {
  const basic = /^Basic +(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  let id = body.client_id;
  let secret = body.client_secret;
  if (basic?.[1] !== undefined) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    try {
      id = decodeURIComponent(decoded.slice(0, Math.max(sep, 0)));
      secret = decodeURIComponent(decoded.slice(sep + 1));
    } catch {
      id = undefined;
    }
  }
  const client = clients.find((c) => c.id === id);
  if (client !== undefined && secret !== undefined && secretsEqual(secret, client.secret)) return client;
  throw httpError(
    401,
    'invalid_client',
    id === undefined || secret === undefined
      ? 'client authentication required: HTTP Basic or client_id and client_secret of a client in AUTH_CLIENTS'
      : `unknown client ${JSON.stringify(id)} or wrong client_secret`,
    basic === null ? {} : { 'www-authenticate': 'Basic realm="auth-server"' },
  );
}

/** Renders errors as `{ error, error_description }`; fastify's own (e.g. schema validation) as invalid_request. */
export function handleError(err: FastifyError | HttpError, request: FastifyRequest, reply: FastifyReply) {
  if ('error' in err) {
    return reply
      .code(err.statusCode)
      .headers(err.headers)
      .send({ error: err.error, error_description: err.message });
  }
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err, url: request.url }, 'request failed');
    return reply
      .code(500)
      .send({ error: 'server_error', error_description: 'internal error; see the auth server log' });
  }
  return reply.code(status).send({ error: 'invalid_request', error_description: describeFailure(err) });
}

/** A schema validation failure as text that names each bad field and, for enums, the allowed values. */
function describeFailure(err: FastifyError): string {
  if (err.validation === undefined) return err.message;
  return err.validation
    .map(({ instancePath, message, params }) => {
      const allowed = Array.isArray(params['allowedValues'])
        ? ` (${params['allowedValues'].join(', ')})`
        : '';
      return `${err.validationContext ?? 'body'}${instancePath} ${message ?? 'is invalid'}${allowed}`;
    })
    .join('; ');
}
