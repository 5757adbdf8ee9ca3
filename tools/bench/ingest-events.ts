/** The events `bench:ingest` (and the produce bench beside it) sends: realistic, ~400 bytes each. */

const IPS = [
  '85.214.132.117',
  '200.147.67.142',
  '8.8.8.8',
  '81.2.69.160',
  '2a00:1450:4001:82b::200e',
  '133.242.0.1',
  '41.76.108.46',
  '10.1.2.3',
];

/** Realistic events: three in four verifications, one in four refreshes, ~400 bytes each. */
export function makeEvents(n: number, prefix: string): Record<string, unknown>[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const base = {
      event_id: `${prefix}-${i}`,
      time: now - (i % 60_000),
      tenant: 'acme',
      source: `gateway-${i % 8}`,
      subject: `user-${i % 20_000}`,
      ip: IPS[i % IPS.length],
      user_agent:
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
      device_id: `dev-${i % 30_000}`,
      session_id: `sid-${i % 25_000}`,
    };
    return i % 4 === 3
      ? {
          ...base,
          type: 'refresh',
          outcome: 'rotated',
          reason: 'ok',
          family_id: `fam-${i % 20_000}`,
          token_id: `rt-${i}`,
          new_token_id: `rt-${i}-n`,
          access_jti: `jti-${i}-n`,
        }
      : {
          ...base,
          type: 'verification',
          outcome: 'accepted',
          reason: 'ok',
          jti: `jti-${i}`,
          iss: 'https://auth.example',
          aud: 'api',
          kid: 'k1',
          alg: 'EdDSA',
          exp: Math.floor(now / 1000) + 900,
        };
  });
}
