import { describe, expect, it } from 'vitest';
import {
  type BenchOutcome,
  formatNumber,
  headlinesOf,
  summarySection,
  summaryTable,
} from '../../../../tools/bench/summary.ts';
import { headline, withSection } from '../../../../tools/bench/support.ts';

const DOC =
  '# Benchmark results\n\nPreamble.\n\n## Ingest\n\ningest figures\n\n## Detection\n\ndetect figures\n';

describe('bench results: withSection', () => {
  it('replaces a section in place and keeps the others', () => {
    const doc = withSection(DOC, 'Ingest', '## Ingest\n\nnew figures\n');
    expect(doc).toBe(
      '# Benchmark results\n\nPreamble.\n\n## Ingest\n\nnew figures\n\n## Detection\n\ndetect figures\n',
    );
  });

  it('appends a new section by default, and puts it before the first with position first', () => {
    expect(withSection(DOC, 'Response', '## Response\n\nr\n')).toBe(`${DOC}\n## Response\n\nr\n`);
    expect(withSection(DOC, 'Summary', '## Summary\n\ns\n', 'first')).toBe(
      '# Benchmark results\n\nPreamble.\n\n## Summary\n\ns\n\n## Ingest\n\ningest figures\n\n## Detection\n\ndetect figures\n',
    );
  });

  it('replaces the summary at the top on the next run, wherever position says', () => {
    const once = withSection(DOC, 'Summary', '## Summary\n\nfirst run\n', 'first');
    const twice = withSection(once, 'Summary', '## Summary\n\nsecond run\n', 'first');
    expect(twice).toBe(once.replace('first run', 'second run'));
  });

  it('matches whole headings only', () => {
    const doc = withSection('# R\n\n### Ingest\n\nx\n', 'Ingest', '## Ingest\n\ny\n');
    expect(doc).toBe('# R\n\n### Ingest\n\nx\n\n## Ingest\n\ny\n');
  });
});

describe('bench results: headline figures', () => {
  it('computes value ÷ baseline, null where it is not a number', () => {
    const h = headline({ figure: 'f', value: 50, unit: 'ms', baseline: 'b', baselineValue: 200 });
    expect(h.ratio).toBe(0.25);
    expect(headline({ figure: 'f', value: 5, unit: 'ms', baseline: 'b', baselineValue: 0 }).ratio).toBeNull();
    expect(
      headline({ figure: 'f', value: 5, unit: 'ms', baseline: 'b', baselineValue: 2, ratio: 3 }).ratio,
    ).toBe(3);
  });

  it('reads them back from JSON, saying what is wrong where they are not there', () => {
    const h = headline({ figure: 'f', value: Number.NaN, unit: 'ms', baseline: 'b', baselineValue: 2 });
    const [back] = headlinesOf(JSON.parse(JSON.stringify({ headline: [h] })), 'x.json');
    expect(back?.value).toBeNaN();
    expect(() => headlinesOf({ date: 'today' }, 'x.json')).toThrow(/x.json has no "headline" array/);
    expect(() => headlinesOf({ headline: [{ figure: 'f' }] }, 'x.json')).toThrow(
      /headline\[0\]: "unit" is not a string/,
    );
  });
});

describe('bench results: the summary', () => {
  const outcomes: BenchOutcome[] = [
    {
      bench: 'sdk',
      seconds: 75,
      headline: [
        headline({
          figure: 'EdDSA verifications/s',
          value: 41_234.5,
          unit: 'verif/s',
          baseline: 'bare jwtVerify',
          baselineValue: 42_000,
          note: 'overhead 1.8%',
        }),
      ],
    },
    { bench: 'respond', seconds: 12, failure: 'exited with 1', headline: [] },
  ];

  it('puts each figure beside its baseline, and a failed benchmark in a row of its own', () => {
    expect(summaryTable(outcomes).split('\n').slice(2)).toEqual([
      '| sdk | EdDSA verifications/s | 41,235 verif/s | bare jwtVerify: 42,000 verif/s | 0.98 | overhead 1.8% |',
      "| respond | **FAILED**: exited with 1 | – | – | – | see the run's output (stderr) |",
    ]);
  });

  it('says the command, the date, the machine and what failed', () => {
    const section = summarySection(outcomes, {
      command: 'npm run bench',
      date: '2026-01-01 10:00',
      machine: 'm',
    });
    expect(section).toMatch(/^## Summary \(npm run bench\)\n\n`npm run bench` on 2026-01-01 10:00 UTC; m\./);
    expect(section).toContain('sdk 1 min 15 s, respond 12 s; 1 min 27 s in all. **Failed: respond.**');
  });

  it('formats numbers with fewer decimals the larger they are', () => {
    expect([1234.5, 45.67, 3.14567, Number.NaN, null].map(formatNumber)).toEqual([
      '1,235',
      '45.7',
      '3.15',
      '–',
      '–',
    ]);
  });
});
