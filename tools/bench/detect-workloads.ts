/**
 * The detector workloads of the benchmarks (detect-memory.ts: heap per tracked key; detect-cpu.ts:
 * CPU per event): realistic events that build about `keys` tracked keys — access tokens, refresh
 * families, or a day's mix per subject — each handed to `rt.process` as the detector runtime reads it.
 */
import { randomUUID } from 'node:crypto';
import type { DetectorInput } from '../../detectors/run/runtime.ts';

/** the time between a family's rotations (ms); 0 for the worst case */
const ROTATION_GAP_MS = Number(process.env.ROTATION_GAP_MS ?? 900_000);

export const NOW = Date.now();
/** A 36-character id as a flat string, as JSON.parse makes it (id() builds a concatenation tree). */
export const id = () => Buffer.from(randomUUID()).toString('latin1');
const UA = ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/17.5', 'okhttp/4.12.0'];
const PLACES = [
  { ip: '85.214.132.117', country: 'DE', city: 'Berlin', lat: 52.5174, lon: 13.3985, geo_radius_km: 200 },
  { ip: '200.147.67.142', country: 'BR', city: 'São Paulo', lat: -23.5505, lon: -46.6333, geo_radius_km: 50 },
  { ip: '72.229.28.185', country: 'US', city: 'New York', lat: 40.7128, lon: -74.006, geo_radius_km: 20 },
];

/** A fresh event as a detector input: strings new per event, as JSON.parse makes them. */
function event(i: number, fields: Partial<DetectorInput>): DetectorInput {
  const place = PLACES[i % PLACES.length]!;
  return {
    event_id: id(),
    type: 'verification',
    time_ms: NOW - 600_000 + (i % 600_000),
    tenant: 'acme',
    subject: '',
    source: `gateway-${i % 8}`,
    client_id: 'web',
    session_id: '',
    ip: `${place.ip}`,
    user_agent: `${UA[i % 2]}`,
    device_id: '',
    outcome: 'accepted',
    reason: 'ok',
    jti: '',
    alg: 'EdDSA',
    exp: Math.floor(NOW / 1000) + 900,
    family_id: '',
    token_id: '',
    new_token_id: '',
    access_jti: '',
    country: place.country,
    city: place.city,
    lat: place.lat,
    lon: place.lon,
    geo_radius_km: place.geo_radius_km,
    ...fields,
  };
}

/** What a workload hands its events to: a DetectorRuntime, or a list that records them. */
export interface EventSink {
  process(input: DetectorInput, mode: 'live'): unknown;
}

type Workload = (rt: EventSink, keys: number) => void;

export const WORKLOADS: Record<string, Workload> = {
  /** access tokens: 4 per subject, each verified twice from its device */
  tokens(rt, keys) {
    for (let k = 0; k < keys; k++) {
      const subject = `user-${Math.floor(k / 4)}`;
      const jti = id();
      for (let n = 0; n < 2; n++)
        rt.process(event(k, { subject, jti, device_id: `dev-${Math.floor(k / 4)}` }), 'live');
    }
  },
  /**
   * refresh families: 2 per subject, each issued and rotated three times, ROTATION_GAP_MS apart
   * (default 15 minutes, an access token's lifetime: the client refreshes when it expires). With a
   * gap of 0 every rotation is within the allowed lateness of the last: the worst case, where a
   * family keeps each of them for re-judging.
   */
  families(rt, keys) {
    for (let k = 0; k < keys; k++) {
      const subject = `user-${Math.floor(k / 2)}`;
      const family_id = id();
      const tokens = [id(), id(), id(), id()];
      const device_id = `dev-${k}`;
      const issued = NOW - 3 * ROTATION_GAP_MS - 600_000 + (k % 600_000);
      rt.process(
        event(k, { type: 'issuance', subject, family_id, token_id: tokens[0]!, device_id, time_ms: issued }),
        'live',
      );
      for (let r = 0; r < 3; r++)
        rt.process(
          event(k, {
            type: 'refresh',
            outcome: 'rotated',
            subject,
            family_id,
            token_id: tokens[r]!,
            new_token_id: tokens[r + 1]!,
            device_id,
            time_ms: issued + (r + 1) * ROTATION_GAP_MS,
          }),
          'live',
        );
    }
  },
  /** a day's mix per subject: a family rotated twice (ROTATION_GAP_MS apart), a session, and 3 access tokens */
  mixed(rt, keys) {
    let made = 0;
    for (let s = 0; made < keys; s++) {
      const subject = `user-${s}`;
      const family_id = id();
      const session_id = id();
      const device_id = `dev-${s}`;
      const tokens = [id(), id(), id()];
      const issued = NOW - 2 * ROTATION_GAP_MS - 600_000 + (s % 600_000);
      rt.process(
        event(s, {
          type: 'issuance',
          subject,
          family_id,
          token_id: tokens[0]!,
          device_id,
          session_id,
          time_ms: issued,
        }),
        'live',
      );
      for (let r = 0; r < 2; r++)
        rt.process(
          event(s, {
            type: 'refresh',
            outcome: 'rotated',
            subject,
            family_id,
            session_id,
            token_id: tokens[r]!,
            new_token_id: tokens[r + 1]!,
            device_id,
            time_ms: issued + (r + 1) * ROTATION_GAP_MS,
          }),
          'live',
        );
      for (let j = 0; j < 3; j++) {
        const jti = id();
        for (let n = 0; n < 3; n++) rt.process(event(s, { subject, jti, session_id, device_id }), 'live');
      }
      made += 5; // family + session + 3 tokens
    }
  },
};
