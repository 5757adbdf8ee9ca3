/**
 * Reads a token's header and claims WITHOUT verifying them, for reporting a rejection only
 * (who was targeted, which alg/kid a forgery claimed). Nothing read here decides anything.
 */

export interface UnverifiedParts {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Tokens longer than this are not decoded for reporting (nor verified: see the verifier). */
export const MAX_TOKEN_LENGTH = 16_384;

function segment(part: string | undefined): Record<string, unknown> {
  if (part === undefined || part === '' || !/^[A-Za-z0-9_-]+$/.test(part)) return {};
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The header and claims as presented; empty objects for what does not decode. */
export function readUnverified(token: string): UnverifiedParts {
  if (token.length > MAX_TOKEN_LENGTH) return { header: {}, claims: {} };
  const [header, claims] = token.split('.', 3);
  return { header: segment(header), claims: segment(claims) };
}
