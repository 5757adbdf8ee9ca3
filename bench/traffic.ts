/**
 * Traffic the latency benchmarks share: a benign background of many subjects (verifications from
 * their own device and address, rotations now and then) and probes — a refresh token rotated in
 * Berlin, then replayed from São Paulo on another device (refresh_replay, impossible_travel and
 * device_reuse each find it; one family revocation follows).
 */
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const HOME_IPS = ['85.214.132.117', '81.2.69.160', '72.229.28.185', '133.242.0.1'];

/** Benign traffic: each subject verifies its current token from its own device and address, and now and then rotates. */
export class Background {
  #i = 0;
  readonly #rotations = new Map<number, number>();

  next(n: number, nowMs: number): { key: string; value: string }[] {
    const out = [];
    for (let k = 0; k < n; k++) {
      const i = this.#i++;
      const s = i % 50_000;
      const subject = `bg-${s}`;
      const base = {
        event_id: `bg-${i}`,
        time: nowMs,
        tenant: 'acme',
        source: `gateway-${i % 8}`,
        subject,
        client_id: 'web',
        ip: HOME_IPS[s % HOME_IPS.length],
        user_agent: UA,
        device_id: `dev-${s}`,
        session_id: `sid-${s}`,
      };
      let event: Record<string, unknown>;
      if (i % 10 === 9) {
        const n = this.#rotations.get(s) ?? 0;
        this.#rotations.set(s, n + 1);
        event = {
          ...base,
          type: 'refresh',
          outcome: 'rotated',
          reason: 'ok',
          family_id: `fam-${subject}`,
          token_id: `rt-${subject}-${n}`,
          new_token_id: `rt-${subject}-${n + 1}`,
        };
      } else {
        event = {
          ...base,
          type: 'verification',
          outcome: 'accepted',
          reason: 'ok',
          jti: `jti-${subject}-${Math.floor(i / 500_000)}`,
          iss: 'https://auth.example',
          aud: 'api',
          alg: 'EdDSA',
          exp: Math.floor(nowMs / 1000) + 900,
        };
      }
      out.push({ key: `acme:${subject}`, value: JSON.stringify(event) });
    }
    return out;
  }
}

export function probeEvents(k: number, nowMs: number) {
  const base = {
    tenant: 'acme',
    source: 'auth',
    subject: `probe-${k}`,
    client_id: 'web',
    family_id: `fam-probe-${k}`,
  };
  const rotation = {
    ...base,
    event_id: `probe-${k}-rotation`,
    type: 'refresh',
    time: nowMs - 60_000,
    outcome: 'rotated',
    reason: 'ok',
    token_id: `p-${k}-0`,
    new_token_id: `p-${k}-1`,
    ip: '85.214.132.117',
    device_id: 'laptop',
  };
  const replay = {
    ...rotation,
    event_id: `probe-${k}-replay`,
    time: nowMs,
    new_token_id: `p-${k}-x`,
    ip: '200.147.67.142',
    device_id: 'attacker',
  };
  return [rotation, replay].map((e) => ({ key: `acme:${e.subject}`, value: JSON.stringify(e) }));
}
