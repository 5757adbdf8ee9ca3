import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventLabels } from '../../../../ingest/sink/event-labels.ts';

describe('eventLabels', () => {
  it('keeps the contract values and turns free text into other', () => {
    expect(eventLabels('verification', 'rejected', 'expired')).toBe('verification\0rejected\0expired');
    expect(eventLabels('revocation', '', 'logout')).toBe('revocation\0\0logout');
    expect(eventLabels('revocation', 'done', 'because I said so')).toBe('revocation\0other\0other');
    expect(eventLabels('issuance', 'ok', 'password')).toBe('issuance\0ok\0password');
  });

  it('gives a bounded set of label values whatever the input', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.constantFrom('verification', 'refresh', 'issuance', 'revocation', 'x'),
        fc.string(),
        fc.string(),
        (t, o, r) => {
          seen.add(eventLabels(t, o, r));
        },
      ),
      { numRuns: 5000 },
    );
    expect(seen.size).toBeLessThan(60);
  });
});
