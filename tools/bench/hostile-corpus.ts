/**
 * A corpus of hostile events, generated with fast-check from a seed: what an attacker with an event
 * key (or a forged token at any SDK-protected API) can make tokenwatch read. Each item belongs to a
 * class and says what must become of it: `stored` (hostile but valid: lone surrogates, control
 * characters, invalid UTF-8 inside strings, `__proto__` keys…) or the reject code of its dead letter.
 * The same seed gives the same corpus. Used by the fuzz test (test/integration/hostile-fuzz.test.ts)
 * and `npm run bench:hostile`.
 */
import fc from 'fast-check';

export type Door = 'http' | 'kafka';

export interface HostileItem {
  /** the class it was generated from */
  cls: string;
  /** what the door receives: JSON-ish text, or raw bytes (invalid UTF-8) */
  body: string | Buffer;
  /** `stored`, or the code of its dead letter */
  expect: string;
  /** for stored items: the event_id it is stored under */
  eventId?: string;
}

/** A real-looking signed JWT, JWE and unsecured token: none of them may be stored anywhere. */
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
export const TOKENS = {
  jws: `${b64({ alg: 'ES256', typ: 'JWT', kid: 'k1' })}.${b64({ sub: 'victim', jti: 'stolen-1', exp: 4102444800 })}.${'Sg'.repeat(43)}`,
  jwe: `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.${'OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKo'}.48V1_ALb6US04U3b.${'5eym8TW_c8SuK0ltJ3rpYIzO'}.XFBoMYUZodetZdvTiFvSkQ`,
  none: `${b64({ alg: 'none' })}.${b64({ sub: 'victim', admin: true })}.`,
};
/** Segments that must appear in no table (the secret-bearing parts of the tokens above). */
export const TOKEN_MARKERS = [
  TOKENS.jws.split('.')[1]!,
  TOKENS.jws.split('.')[2]!,
  TOKENS.jwe.split('.')[1]!,
  TOKENS.none.split('.')[1]!,
];

interface Ctx {
  door: Door;
  tenant: string;
  nowMs: number;
  id: () => string;
}

/** A valid event (verification or refresh) of the tenant, with a fresh event_id. */
function good(c: Ctx, id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const n = Number(id.slice(id.lastIndexOf('-') + 1)) || 0;
  const base = {
    event_id: id,
    time: c.nowMs - (n % 600_000),
    tenant: c.tenant,
    source: `fuzz-${n % 7}`,
    subject: `user-${n % 500}`,
    ip: ['85.214.132.117', '200.147.67.142', '2a00:1450:4001:82b::200e', '10.1.2.3'][n % 4],
    user_agent: 'Mozilla/5.0 (fuzz)',
    device_id: `dev-${n % 300}`,
  };
  return n % 3 === 0
    ? {
        ...base,
        type: 'refresh',
        outcome: 'rotated',
        reason: 'ok',
        family_id: `fam-${n % 400}`,
        token_id: `rt-${id}`,
        new_token_id: `rt-${id}-n`,
        ...extra,
      }
    : {
        ...base,
        type: 'verification',
        outcome: n % 2 ? 'accepted' : 'rejected',
        reason: n % 2 ? 'ok' : 'expired',
        jti: `jti-${id}`,
        ...extra,
      };
}

const text = (v: unknown) => JSON.stringify(v);
const nest = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
const anyString = fc.string({ unit: 'binary', maxLength: 40 });
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

type Maker = (c: Ctx) => fc.Arbitrary<HostileItem>;

const stored = (cls: string, c: Ctx, make: (id: string) => string | Buffer): fc.Arbitrary<HostileItem> =>
  fc.constant(null).map(() => {
    const id = c.id();
    return { cls, body: make(id), expect: 'stored', eventId: id };
  });

const refused =
  (cls: string, code: string, make: (c: Ctx, id: string) => string | Buffer): Maker =>
  (c) =>
    fc.constant(null).map(() => ({ cls, body: make(c, c.id()), expect: code }));

/** Classes of hostile-but-valid events (stored, made well-formed) and of invalid ones (dead-lettered), with weights. */
const CLASSES: [number, Maker][] = [
  [20, (c) => stored('good', c, (id) => text(good(c, id)))],
  [
    4,
    (c) =>
      fc
        .tuple(anyString, loneSurrogate)
        .chain(([s, lone]) =>
          stored('lone surrogate in a value', c, (id) => text(good(c, id, { user_agent: `${s}${lone}` }))),
        ),
  ],
  [
    3,
    (c) =>
      loneSurrogate.chain((lone) =>
        stored('lone surrogate in a key', c, (id) => text(good(c, id, { [`k${lone}`]: 'v' }))),
      ),
  ],
  [
    3,
    (c) =>
      stored('control characters and NUL', c, (id) =>
        text(good(c, id, { user_agent: '\u0000\u0001\u001f\t\n\r\\', note: '\u007f' })),
      ),
  ],
  [
    3,
    (c) =>
      stored('invalid UTF-8 inside a string', c, (id) => {
        const t = text(good(c, id, { note: 'XX' }));
        const at = t.indexOf('"XX"') + 1;
        return Buffer.concat([
          Buffer.from(t.slice(0, at)),
          Buffer.from([0xff, 0xfe]),
          Buffer.from(t.slice(at + 2)),
        ]);
      }),
  ],
  [
    3,
    (c) =>
      stored(
        '__proto__, constructor and prototype keys',
        c,
        (id) =>
          `${text(good(c, id)).slice(0, -1)},"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`,
      ),
  ],
  [
    2,
    (c) =>
      stored('1,000 extra fields', c, (id) =>
        text(good(c, id, Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, i])))),
      ),
  ],
  [2, (c) => stored('a 10 KB key', c, (id) => text(good(c, id, { ['k'.repeat(10_000)]: 1 })))],
  [2, (c) => stored('a byte-order mark first', c, (id) => `\ufeff${text(good(c, id))}`)],
  [
    2,
    (c) =>
      stored(
        'duplicate keys',
        c,
        (id) => `${text(good(c, id)).slice(0, -1)},"source":"dup","source":"dup2"}`,
      ),
  ],
  [
    3,
    (c) =>
      fc
        .string({ unit: 'grapheme', maxLength: 30 })
        .chain((g) =>
          stored('emoji, RTL and combining marks', c, (id) =>
            text(good(c, id, { subject: `👩‍👩‍👧${g}\u202e\u0301`.slice(0, 250), device_id: '🔑' })),
          ),
        ),
  ],
  [
    2,
    (c) =>
      stored(
        'nesting at the depth limit',
        c,
        (id) => `${text(good(c, id)).slice(0, -1)},"deep":${nest(31)}}`,
      ),
  ],
  [
    2,
    (c) =>
      stored('a forged tenant-looking source', c, (id) =>
        text(good(c, id, { source: 'other:admin', subject: 'victim:1' })),
      ),
  ],

  [3, refused('an emoji alone', 'malformed_json', () => '😀')],
  [
    2,
    refused('invalid UTF-8 outside strings', 'malformed_json', () => Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
  ],
  [3, refused('truncated JSON', 'malformed_json', (c, id) => text(good(c, id)).slice(0, 30))],
  [
    2,
    refused(
      'nested 4,000 deep (8 KB)',
      'invalid_field',
      (c, id) => `${text(good(c, id)).slice(0, -1)},"x":${nest(4000)}}`,
    ),
  ],
  [
    2,
    refused(
      'nested one level too deep',
      'invalid_field',
      (c, id) => `${text(good(c, id)).slice(0, -1)},"x":${nest(32)}}`,
    ),
  ],
  [0.02, refused('200 KB of "eyey…"', 'oversized', () => `"${'ey'.repeat(100_000)}"`)],
  [1, refused('a 20 KB string', 'oversized', (c, id) => text(good(c, id, { pad: 'x'.repeat(20_000) })))],
  [
    2,
    refused(
      'a number too large',
      'invalid_field',
      (c, id) => `${text(good(c, id)).slice(0, -1)},"iat":1e400}`,
    ),
  ],
  [2, refused('a fractional time', 'invalid_time', (c, id) => text(good(c, id, { time: c.nowMs + 0.5 })))],
  [
    2,
    refused('a raw JWS in a field', 'raw_token', (c, id) =>
      text(good(c, id, { user_agent: `curl Bearer ${TOKENS.jws}` })),
    ),
  ],
  [
    2,
    refused('a raw JWE deep in an extra field', 'raw_token', (c, id) =>
      text(good(c, id, { debug: { headers: [{ cookie: `s=${TOKENS.jwe}` }] } })),
    ),
  ],
  [2, refused('a raw JWS as a key', 'raw_token', (c, id) => text(good(c, id, { [TOKENS.jws]: true })))],
  [
    2,
    refused(
      'a raw JWS hidden in \\u escapes',
      'raw_token',
      (c, id) =>
        `${text(good(c, id)).slice(0, -1)},"h":"${[...TOKENS.jws].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"}`,
    ),
  ],
  [2, refused('an alg none token', 'raw_token', (c, id) => text(good(c, id, { note: TOKENS.none })))],
  [
    1,
    refused('a flood of token-shaped decoys', 'raw_token', (c, id) =>
      text(
        good(c, id, {
          note: Array.from({ length: 70 }, () => `${b64({ nope: 1 })}.${'b'.repeat(12)}`).join(' '),
        }),
      ),
    ),
  ],
  [2, refused('type of the wrong JSON type', 'unknown_type', (c, id) => text({ ...good(c, id), type: 5 }))],
  [
    2,
    refused('event_id of the wrong JSON type', 'invalid_field', (c, id) =>
      text({ ...good(c, id), event_id: 12 }),
    ),
  ],
  [
    2,
    refused('no event_id', 'missing_field', (c, id) => {
      const { event_id: _, ...rest } = good(c, id);
      return text(rest);
    }),
  ],
  [
    2,
    () =>
      fc
        .constantFrom('[1]', '"x"', 'null', '5', 'true', '[]')
        .map((body) => ({ cls: 'not an object', body, expect: 'not_an_object' })),
  ],
  [2, refused('an unknown type', 'unknown_type', (c, id) => text({ ...good(c, id), type: 'login' }))],
  [2, refused('an empty object', 'unknown_type', () => '{}')],
  [2, refused('an invalid IP', 'invalid_ip', (c, id) => text(good(c, id, { ip: '999.1.1.1' })))],
  [
    2,
    refused('a time far in the past', 'time_out_of_range', (c, id) =>
      text(good(c, id, { time: c.nowMs - 40 * 86_400_000 })),
    ),
  ],
  [
    2,
    refused('a time far in the future', 'time_out_of_range', (c, id) =>
      text(good(c, id, { time: c.nowMs + 86_400_000 })),
    ),
  ],
  [
    2,
    refused('an impossible date', 'invalid_time', (c, id) =>
      text(good(c, id, { time: '2026-02-30T10:00:00Z' })),
    ),
  ],
  [
    2,
    refused('an outcome that contradicts its reason', 'inconsistent_outcome', (c, id) =>
      text({ ...good(c, id), type: 'verification', outcome: 'accepted', reason: 'expired' }),
    ),
  ],
  [
    2,
    refused('a reason the contract does not know', 'invalid_field', (c, id) =>
      text({ ...good(c, id), type: 'verification', outcome: 'rejected', reason: "'; DROP TABLE events; --" }),
    ),
  ],
  [
    2,
    refused('a field over its length', 'invalid_field', (c, id) =>
      text(good(c, id, { subject: 's'.repeat(300) })),
    ),
  ],
  [
    2,
    refused('a tenant the pattern refuses', 'invalid_field', (c, id) =>
      text(good(c, id, { tenant: 'a b\u0000' })),
    ),
  ],
  [
    1,
    refused('17 audiences', 'invalid_field', (c, id) =>
      text(good(c, id, { aud: Array.from({ length: 17 }, (_, i) => `a${i}`) })),
    ),
  ],
];

/** HTTP only: an event naming another tenant than the key's. */
const HTTP_ONLY: [number, Maker][] = [
  [2, refused("another tenant's name", 'tenant_mismatch', (c, id) => text(good(c, id, { tenant: 'other' })))],
];

export const CLASS_COUNT = CLASSES.length + HTTP_ONLY.length;

/** `count` items for `door`, from `seed`: the same arguments give the same corpus. */
export function hostileCorpus(o: {
  door: Door;
  count: number;
  seed: number;
  tenant: string;
  nowMs: number;
  prefix: string;
}): HostileItem[] {
  let n = 0;
  const c: Ctx = { door: o.door, tenant: o.tenant, nowMs: o.nowMs, id: () => `${o.prefix}-${n++}` };
  const classes = o.door === 'http' ? [...CLASSES, ...HTTP_ONLY] : CLASSES;
  const arb = fc.oneof(
    ...classes.map(([weight, make]) => ({
      weight: Math.max(1, Math.round(weight * 50)),
      arbitrary: make(c),
    })),
  );
  const items = fc.sample(arb, { seed: o.seed, numRuns: o.count });
  // The rarest, most expensive class at least once, whatever the seed.
  const rare = CLASSES.find(([w]) => w < 1)![1](c);
  items[0] = fc.sample(rare, { seed: o.seed, numRuns: 1 })[0]!;
  return items;
}
