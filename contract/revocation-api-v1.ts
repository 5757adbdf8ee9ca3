/**
 * The revocation API contract v1: what tokenwatch sends the auth server's revocation endpoint and
 * what it understands of the answer — one definition for the client (response/revoke/auth-api.ts)
 * and the reference server (examples/auth-server/routes/revocations.ts).
 *
 *   POST <TOKENWATCH_AUTH_REVOKE_URL>
 *   Authorization: Bearer <token>      a static token, or one from OAuth 2.0 client credentials
 *   Idempotency-Key: <revocation id>   the same for every retry of one revocation
 *   Content-Type: application/json     body: RevocationRequest
 *
 *   2xx, 409   done: revoked now, or before (a repeated key is answered as first) — except a
 *              2xx whose body is RevocationAnswer with status `denylist_only`: the server cannot
 *              revoke that target (e.g. a JWT access token it never stored); recorded as such
 *   404        not found: the server never issued that target (nothing to revoke)
 *   408, 425, 429, 5xx, no answer      retry later (Retry-After honoured)
 *   other 4xx  failed: retrying would get the same answer; body: RevocationError
 */
import { type Static, Type } from '@sinclair/typebox';

/** What can be revoked at the auth server (and what a verifier's denylist holds). */
export const REVOCATION_TARGETS = ['jti', 'family', 'session', 'subject'] as const;
export type RevocationTarget = (typeof REVOCATION_TARGETS)[number];

/** A revocation target as JSON Schema's `enum` (validators then name the allowed values). */
export const TargetSchema = (description?: string) =>
  Type.Unsafe<RevocationTarget>({
    type: 'string',
    enum: [...REVOCATION_TARGETS],
    ...(description === undefined ? {} : { description }),
  });

const Timestamp = Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339' });
/** informational fields: generous limits, so that a long text never fails a revocation */
const Label = Type.Optional(Type.String({ maxLength: 4096 }));

export const RevocationRequest = Type.Object(
  {
    target: TargetSchema(
      'what to revoke: one access token, a refresh-token family, a session, or everything of a subject',
    ),
    id: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'its id (jti, family id, session id, subject)',
    }),
    tenant: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'the tenant it belongs to' }),
    ),
    subject: Label,
    expires_at: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 40,
        description: 'RFC 3339: when a denylist entry for it may be dropped',
      }),
    ),
    access_jtis: Type.Optional(
      Type.Array(Type.Object({ jti: Type.String({ minLength: 1, maxLength: 256 }), expires_at: Timestamp }), {
        maxItems: 10_000,
        description: 'family or session: the access tokens issued with it, as far as tokenwatch saw',
      }),
    ),
    reason: Label,
    detection_id: Label,
    detector: Label,
    severity: Label,
  },
  { title: 'revocation request v1' },
);
export type RevocationRequest = Static<typeof RevocationRequest>;

/** The body of a 2xx (optional: any other body, or none, is read as done). */
export const RevocationAnswer = Type.Object(
  {
    status: Type.Union(
      [Type.Literal('revoked'), Type.Literal('already_revoked'), Type.Literal('denylist_only')],
      {
        description:
          'revoked now, revoked before, or not revocable at this server (only the verifiers’ denylists stop it: tokenwatch records `denylist_only`, never done)',
      },
    ),
    target: Type.Optional(TargetSchema()),
    id: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
  },
  { title: 'revocation answer v1' },
);
export type RevocationAnswer = Static<typeof RevocationAnswer>;

/** The body of a refusal (OAuth 2.0 style). */
export const RevocationError = Type.Object(
  { error: Type.String(), error_description: Type.Optional(Type.String()) },
  { title: 'revocation error v1' },
);
export type RevocationError = Static<typeof RevocationError>;
