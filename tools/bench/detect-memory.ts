/**
 * Heap bytes per tracked key of the detector runtime (run by tools/bench/detect.ts, one workload per
 * process: `node --expose-gc tools/bench/detect-memory.ts <workload> <keys>`; prints one JSON line). Each workload builds
 * about `keys` tracked keys from realistic events, beside a baseline measured in the same process:
 * a Map holding the same number of keys (ids of the same length) with a number each — the least
 * any detector must keep to remember a token.
 */
import { randomUUID } from 'node:crypto';
import { REGISTRY } from '../../detectors/registry.ts';
import { type DetectorInput, DetectorRuntime } from '../../detectors/run/runtime.ts';
import { TenantThresholds } from '../../detectors/thresholds.ts';

const KEYS = Number(process.argv[3] ?? 1_000_000);
/** the detectors' allowed lateness (ms): what families keep for late reports */
const LATENESS_MS = Number(process.argv[4] ?? REGISTRY.defaults.allowedLatenessMs);
/** the time between a family's rotations (ms); 0 for the worst case */
const ROTATION_GAP_MS = Number(process.env.ROTATION_GAP_MS ?? 900_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const NOW = Date.now();
/** A 36-character id as a flat string, as JSON.parse makes it (id() builds a concatenation tree). */
const id = () => Buffer.from(randomUUID()).toString('latin1');
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

type Workload = (rt: DetectorRuntime, keys: number) => void;

const WORKLOADS: Record<string, Workload> = {
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

/** The baseline: a Map of `n` UUID-length ids to a number each. */
function baseline(n: number) {
  const map = new Map<string, number>();
  for (let k = 0; k < n; k++) map.set(id(), NOW + k);
  return { keys: map.size, subjects: 0, keep: map };
}

function run(name: string, n: number) {
  if (name === 'baseline') return baseline(n);
  const workload = WORKLOADS[name];
  if (workload === undefined) throw new Error(`unknown workload ${name}`);
  const rt = new DetectorRuntime({
    thresholds: new TenantThresholds({ ...REGISTRY.defaults, allowedLatenessMs: LATENESS_MS }),
    dryRun: new Set(),
    maxKeys: n * 2,
    now: () => NOW,
  });
  workload(rt, n);
  return { ...rt.stats, keep: rt };
}

// One workload per process, warmed up first (code, inline caches, interned strings), then measured.
const name = process.argv[2] ?? 'baseline';
run(name, Math.max(1000, Math.floor(KEYS / 100)));
const before = heap();
const t0 = performance.now();
const result = run(name, KEYS);
const ms = performance.now() - t0;
const bytes = heap() - before;
console.log(
  JSON.stringify({
    workload: name,
    keys: result.keys,
    subjects: result.subjects,
    bytesPerKey: bytes / result.keys,
    ms,
  }),
);
