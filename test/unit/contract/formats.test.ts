/** What the code writes matches the published contract schemas (findings, dead letters). */
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadLetter } from '../../../contract/dead-letter-v1.ts';
import { Finding } from '../../../contract/finding-v1.ts';
import { toDetection } from '../../../detectors/detection.ts';
import { REGISTRY } from '../../../detectors/registry.ts';
import { toDeadLetterRow } from '../../../ingest/pipeline/rows.ts';
import { REJECT_CODES, type RejectCode } from '../../../ingest/pipeline/validate.ts';
import { ev, MINUTE, PLACES, run, SECOND, T0 } from '../detectors/helpers.ts';

const problems = (schema: Parameters<typeof Value.Errors>[0], value: unknown) =>
  [...Value.Errors(schema, value)].map((e) => `${e.path}: ${e.message}`);

describe('finding v1', () => {
  it('describes what every detector finds', () => {
    const events = [
      ev({ at: T0 - MINUTE, type: 'issuance', family_id: 'f', token_id: 'rt-0', device_id: 'laptop' }),
      ev({
        at: T0,
        type: 'refresh',
        family_id: 'f',
        token_id: 'rt-0',
        new_token_id: 'rt-1',
        outcome: 'rotated',
        reason: 'ok',
        device_id: 'laptop',
      }),
      ev({
        at: T0 + MINUTE,
        type: 'refresh',
        family_id: 'f',
        token_id: 'rt-0',
        new_token_id: 'rt-x',
        outcome: 'rotated',
        reason: 'ok',
        device_id: 'evil',
        place: PLACES.saoPaulo,
      }),
      ev({ at: T0, type: 'verification', jti: 'j', outcome: 'accepted', reason: 'ok', device_id: 'laptop' }),
      ev({
        at: T0 + 10 * SECOND,
        type: 'verification',
        jti: 'j',
        outcome: 'accepted',
        reason: 'ok',
        device_id: 'evil',
        place: PLACES.saoPaulo,
      }),
      ...Array.from({ length: 25 }, (_, i) =>
        ev({
          at: T0 + i * SECOND,
          type: 'verification',
          outcome: 'rejected',
          reason: 'bad_signature',
          place: PLACES.saoPaulo,
        }),
      ),
      ev({ at: T0, type: 'verification', outcome: 'rejected', reason: 'alg_not_allowed', alg: 'none' }),
      ev({
        at: T0 + 20 * SECOND,
        type: 'verification',
        jti: 'j',
        outcome: 'rejected',
        reason: 'dpop_key_mismatch',
        bound_key_thumbprint: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I',
        proof_key_thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
      }),
    ];
    const found = new Set<string>();
    for (const d of REGISTRY.detectors) {
      for (const f of run(d.detect, events).findings) {
        found.add(d.name);
        const detection = toDetection(f, false, Date.now());
        const { jti_expires_ms: _, ...published } = detection;
        expect([d.name, problems(Finding, published)]).toEqual([d.name, []]);
      }
    }
    expect([...found].sort()).toEqual([...REGISTRY.names].sort());
  });
});

describe('dead letter v1', () => {
  it('describes every dead letter, whatever was refused', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(REJECT_CODES) as RejectCode[])),
        fc.string({ maxLength: 2000 }),
        fc.constantFrom('http', 'kafka') as fc.Arbitrary<'http' | 'kafka'>,
        fc.integer({ min: -1, max: 10_000 }),
        (code, payload, door, index) => {
          const row = toDeadLetterRow(
            {
              door,
              tenant: 'acme',
              origin: '10.0.0.1',
              eventIndex: index,
              error: { code, message: REJECT_CODES[code], field: '/ip' },
              payload,
              receivedMs: T0,
            },
            1024,
          );
          expect(problems(DeadLetter, row)).toEqual([]);
        },
      ),
    );
  });
});
