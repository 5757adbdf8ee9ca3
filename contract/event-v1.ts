/**
 * The event contract v1, defined once. TypeBox gives the TypeScript types and the JSON Schema
 * (published as contract/schemas/event-v1.schema.json by `npm run schema`). Semantic rules that JSON Schema
 * cannot say well (time skew, IP syntax, raw tokens) live in ../pipeline/validate.ts.
 */
import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox';

export const EVENT_TYPES = ['verification', 'refresh', 'issuance', 'revocation'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const VERIFICATION_REASONS = [
  'ok',
  'expired',
  'not_yet_valid',
  'bad_signature',
  'malformed',
  'alg_not_allowed',
  'unknown_kid',
  'wrong_issuer',
  'wrong_audience',
  'missing_claim',
  'revoked',
  'dpop_proof_missing',
  'dpop_proof_invalid',
  'dpop_proof_replayed',
  'dpop_key_mismatch',
  'mtls_cert_missing',
  'mtls_key_mismatch',
  'other',
] as const;
/**
 * Why a refresh was rejected. `invalid_secret`: the token id is known but the secret presented with
 * it is wrong — whoever sent it did not hold the token, so it is not a use of the token (an attack
 * signal of its own, never a replay); `invalid`: the token could not be read at all.
 */
export const REFRESH_REASONS = [
  'ok',
  'expired',
  'revoked',
  'reuse_detected',
  'invalid',
  'invalid_secret',
  'other',
] as const;

const Id = (description: string, maxLength = 256) => Type.String({ minLength: 1, maxLength, description });
const Text = (description: string, maxLength = 256) => Type.String({ maxLength, description });
const EpochSeconds = (description: string) =>
  Type.Integer({ minimum: 0, maximum: 253402300799, description: `${description} (epoch seconds)` });

/**
 * Where an event's `device_id` came from. `claim` and `auth_server` are strong (the auth server
 * vouches for them); `header` and `cookie` are weak (the client sends them: a thief copies them).
 */
export const DEVICE_ID_SOURCES = ['claim', 'header', 'cookie', 'auth_server'] as const;
export type DeviceIdSource = (typeof DEVICE_ID_SOURCES)[number];

/** Fields every event may carry. */
const common = {
  event_id: Id('producer-unique id; the idempotency key (a re-sent event is stored once)', 128),
  time: Type.Union(
    [
      Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339 date-time' }),
      Type.Integer({ minimum: 0, maximum: 8.64e15, description: 'epoch milliseconds' }),
    ],
    { description: 'when the producer saw it' },
  ),
  tenant: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', default: 'default' }),
  ),
  source: Type.Optional(Text('the service/instance that observed it', 128)),
  subject: Type.Optional(Text("the token's sub")),
  client_id: Type.Optional(Text('azp / client_id')),
  session_id: Type.Optional(Text('sid')),
  ip: Type.Optional(
    Type.String({ maxLength: 64, description: 'client IPv4/IPv6 address as the producer saw it' }),
  ),
  user_agent: Type.Optional(Text('client User-Agent', 1024)),
  device_id: Type.Optional(Text('a stable device identifier when the producer has one')),
  device_id_source: Type.Optional(
    Type.Union(
      ['', ...DEVICE_ID_SOURCES].map((k) => Type.Literal(k)),
      {
        description:
          'where `device_id` came from: `claim` (bound into the token by the auth server), `auth_server` (the auth server’s own knowledge at issuance/refresh) — strong; `header` or `cookie` (sent by the client: a thief copies them with the token) — weak; empty: unknown (weak)',
      },
    ),
  ),
} satisfies TProperties;

/** How a token is bound to a key (RFC 9449 DPoP: `cnf.jkt`; RFC 8705 mTLS: `cnf["x5t#S256"]`). */
export const KEY_BINDING_KINDS = ['dpop', 'mtls'] as const;

/** A base64url SHA-256 thumbprint (43 characters, no padding): a JWK thumbprint or a certificate's. */
const Thumbprint = (description: string) =>
  Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]{43}$', description });

/** Sender-constrained tokens: the key the token is bound to and the key that proved possession. */
const keyBindingFields = {
  bound_key_kind: Type.Optional(
    Type.Union(
      KEY_BINDING_KINDS.map((k) => Type.Literal(k)),
      {
        description:
          'what `bound_key_thumbprint` is: `dpop` (cnf.jkt, RFC 9449) or `mtls` (cnf["x5t#S256"], RFC 8705)',
      },
    ),
  ),
  bound_key_thumbprint: Type.Optional(
    Thumbprint(
      'the token\'s bound key: cnf.jkt (JWK SHA-256 thumbprint) or cnf["x5t#S256"] (certificate SHA-256 thumbprint)',
    ),
  ),
  proof_key_thumbprint: Type.Optional(
    Thumbprint(
      'the key that proved possession on this request: the DPoP proof’s JWK thumbprint or the client certificate’s SHA-256 thumbprint',
    ),
  ),
} satisfies TProperties;

const accessTokenClaims = {
  jti: Type.Optional(Text("the access token's jti")),
  iss: Type.Optional(Text('issuer', 512)),
  aud: Type.Optional(
    Type.Union([Text('audience', 512), Type.Array(Text('audience', 512), { maxItems: 16 })], {
      description: 'audience (a string or an array of strings)',
    }),
  ),
  kid: Type.Optional(Text('key id from the JOSE header (reported, never trusted)')),
  alg: Type.Optional(Text('algorithm from the JOSE header (reported, never trusted)', 32)),
  iat: Type.Optional(EpochSeconds('issued at')),
  exp: Type.Optional(EpochSeconds('expires at')),
  ...keyBindingFields,
} satisfies TProperties;

const refreshFields = {
  family_id: Type.Optional(Text('refresh-token family (grant) id')),
  token_id: Type.Optional(Text('refresh token presented (refresh) or first issued (issuance)')),
  new_token_id: Type.Optional(Text('refresh token issued by this rotation')),
  access_jti: Type.Optional(Text('jti of the access token issued with it')),
} satisfies TProperties;

function eventSchema<T extends TProperties>(type: EventType, description: string, properties: T) {
  return Type.Object(
    { type: Type.Literal(type), ...common, ...properties },
    // Unknown fields are allowed and kept out of the typed columns (stored in `extra`).
    { additionalProperties: true, title: `${type} event`, description },
  );
}

export const VerificationEvent = eventSchema('verification', 'one access-token verification outcome', {
  outcome: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
  reason: Type.Union(VERIFICATION_REASONS.map((r) => Type.Literal(r))),
  ...accessTokenClaims,
  ...refreshFields,
});

export const RefreshEvent = eventSchema('refresh', 'one refresh-token presentation at the auth server', {
  outcome: Type.Union([Type.Literal('rotated'), Type.Literal('rejected')]),
  reason: Type.Union(REFRESH_REASONS.map((r) => Type.Literal(r))),
  family_id: Text('refresh-token family (grant) id'),
  token_id: Text('refresh token presented'),
  new_token_id: refreshFields.new_token_id,
  access_jti: refreshFields.access_jti,
  ...accessTokenClaims,
});

export const IssuanceEvent = eventSchema('issuance', 'tokens issued at login / grant', {
  outcome: Type.Optional(Text('free-form, e.g. ok', 32)),
  reason: Type.Optional(Text('free-form', 64)),
  ...accessTokenClaims,
  ...refreshFields,
});

export const RevocationEvent = eventSchema('revocation', 'a token, family, session or subject revoked', {
  outcome: Type.Optional(Text('free-form, e.g. ok', 32)),
  reason: Type.Optional(Text('why it was revoked', 256)),
  ...accessTokenClaims,
  ...refreshFields,
});

export const EVENT_SCHEMAS: Record<EventType, TObject> = {
  verification: VerificationEvent,
  refresh: RefreshEvent,
  issuance: IssuanceEvent,
  revocation: RevocationEvent,
};

export const TokenEvent = Type.Union([VerificationEvent, RefreshEvent, IssuanceEvent, RevocationEvent], {
  $id: 'https://tokenwatch.dev/schema/event-v1.schema.json',
  title: 'tokenwatch event v1',
  description:
    'One token event. Never contains a raw token: only ids and claims. Send one per Kafka message ' +
    '(key tenant:subject) or many per POST /v1/events (NDJSON or a JSON array).',
});

export type VerificationEvent = Static<typeof VerificationEvent>;
export type RefreshEvent = Static<typeof RefreshEvent>;
export type IssuanceEvent = Static<typeof IssuanceEvent>;
export type RevocationEvent = Static<typeof RevocationEvent>;
export type TokenEvent = Static<typeof TokenEvent>;

/** The names of the fields the contract types; anything else goes to `extra`. */
export const KNOWN_FIELDS: ReadonlySet<string> = new Set(
  Object.values(EVENT_SCHEMAS).flatMap((s) => Object.keys(s.properties)),
);
