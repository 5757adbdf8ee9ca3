/**
 * The revocation notice v1: what tokenwatch publishes for verifiers' denylists the moment a
 * revocation is decided — on the revocation topic (Kafka: key `tenant:subject`, value this JSON) and
 * through GET /v1/revocations (the same object with its polling cursor `seq` first). A family or
 * session revocation is followed by one notice per linked access token (`via` names the revocation).
 */
import { type Static, Type } from '@sinclair/typebox';
import { TargetSchema } from './revocation-api-v1.ts';

const Target = TargetSchema();

export const RevocationNotice = Type.Object(
  {
    version: Type.Literal(1),
    revocation_id: Type.String(),
    tenant: Type.String(),
    subject: Type.String(),
    target: Target,
    id: Type.String(),
    expires_at_ms: Type.Integer({ description: 'a denylist may drop the entry after this (epoch ms)' }),
    revoked_at_ms: Type.Integer({ description: 'when tokenwatch decided it (epoch ms)' }),
    detection_id: Type.String(),
    detector: Type.String(),
    via: Type.Optional(
      Type.Object(
        { target: Target, id: Type.String() },
        { description: 'for a linked access token: the family or session revocation that covers it' },
      ),
    ),
  },
  { title: 'revocation notice v1' },
);
export type RevocationNotice = Static<typeof RevocationNotice>;
