/**
 * @tokenwatch/sdk: report what your verifiers and auth server see to tokenwatch, and refuse revoked
 * tokens at once. Subpaths: `@tokenwatch/sdk/fastify` (plugin), `@tokenwatch/sdk/kafka` (Kafka
 * reporter and revocation follower), `@tokenwatch/sdk/prometheus` (metrics),
 * `@tokenwatch/sdk/oidc-provider` (node-oidc-provider events and the revocation endpoint on its models).
 */
export {
  type AuthEvents,
  type AuthEventsOptions,
  createAuthEvents,
  type GrantContext,
  type IssuanceReport,
  type RefreshReport,
  type RevocationReport,
} from './auth-events.ts';
export {
  Denylist,
  type DenylistFullAlarm,
  type DenylistMatch,
  type DenylistOptions,
  type DenylistStats,
  type HashedRevocationNotice,
  idHash,
  parseNotice,
  REVOCATION_TARGETS,
  type RevocationNotice,
  type RevocationTarget,
  type TokenIdentity,
} from './denylist.ts';
export {
  accessTokenHash,
  createDpopChecker,
  DEFAULT_DPOP_ALGORITHMS,
  type DpopChecker,
  type DpopOptions,
  type DpopRequest,
} from './dpop.ts';
export {
  ConfigurationError,
  KeyBindingError,
  type KeyBindingReason,
  KeysUnavailableError,
  TokenRejectedError,
  TokenwatchError,
} from './errors.ts';
export {
  type AccessTokenFields,
  type BoundKeyKind,
  type CallerContext,
  type DeviceIdSource,
  REFRESH_REASONS,
  type RefreshReason,
  type TokenEvent,
  VERIFICATION_REASONS,
  type VerificationReason,
} from './events.ts';
export {
  createHttpReporter,
  type HttpCompression,
  type HttpReporterOptions,
  HttpTransport,
} from './http-reporter.ts';
export type { SdkLogger } from './log.ts';
export {
  BatchingReporter,
  type Reporter,
  type ReporterOptions,
  type ReporterStats,
  type SendResult,
  type Transport,
} from './reporter.ts';
export {
  type FollowerStats,
  PollAnswerError,
  pollRevocations,
  type RevocationFollower,
  type RevocationPoller,
  type RevocationPollerOptions,
  type RevocationPollerStats,
} from './revocation-poller.ts';
export { type AccessTokenClaims, createVerifier, type Verifier, type VerifierOptions } from './verifier.ts';
