/**
 * The revocation notice v2: notice v1 with every id hashed, for readers that must not learn who was
 * revoked — the verifiers' denylist keys (TOKENWATCH_DENYLIST_API_KEYS) and any poller that asks for
 * `ids=sha256` on GET /v1/revocations. A verifier matches a token by hashing its own jti, session,
 * family and subject the same way. Additive: v1 is unchanged and still served to whoever asks for it.
 *
 *   id_sha256 = base64url(SHA-256(UTF-8(id))), without padding (43 characters)
 *
 * A hash hides an id that cannot be guessed (jtis, family and session ids are random); a subject
 * chosen from a small set (an e-mail address) can still be confirmed by whoever guesses it.
 */
import { createHash } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { TargetSchema } from './revocation-api-v1.ts';
import type { RevocationNotice } from './revocation-notice-v1.ts';

const Target = TargetSchema();
const Hash = (description: string) =>
  Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: `${description}: base64url SHA-256` });

export const HashedRevocationNotice = Type.Object(
  {
    version: Type.Literal(2),
    revocation_id: Type.String(),
    tenant: Type.String(),
    subject_sha256: Hash('the subject'),
    target: Target,
    id_sha256: Hash('the revoked jti, family, session or subject'),
    expires_at_ms: Type.Integer({ description: 'a denylist may drop the entry after this (epoch ms)' }),
    revoked_at_ms: Type.Integer({ description: 'when tokenwatch decided it (epoch ms)' }),
    detection_id: Type.String(),
    detector: Type.String(),
    via: Type.Optional(
      Type.Object(
        { target: Target, id_sha256: Hash('the family or session') },
        { description: 'for a linked access token: the family or session revocation that covers it' },
      ),
    ),
  },
  { title: 'revocation notice v2 (hashed ids)' },
);
export type HashedRevocationNotice = Static<typeof HashedRevocationNotice>;

/** An id as notice v2 names it. */
export const idHash = (id: string): string => createHash('sha256').update(id).digest('base64url');

/** Notice v2 of a notice v1 (the fields other than the ids as they are). */
export function hashedNotice(n: RevocationNotice): HashedRevocationNotice {
  return {
    version: 2,
    revocation_id: n.revocation_id,
    tenant: n.tenant,
    subject_sha256: idHash(n.subject),
    target: n.target,
    id_sha256: idHash(n.id),
    expires_at_ms: n.expires_at_ms,
    revoked_at_ms: n.revoked_at_ms,
    detection_id: n.detection_id,
    detector: n.detector,
    ...(n.via === undefined ? {} : { via: { target: n.via.target, id_sha256: idHash(n.via.id) } }),
  };
}
