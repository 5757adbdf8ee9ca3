/**
 * Adding a detector is one new file and one registry line: a fifth detector
 * (test/fixtures/fifth-detector/session-client-mixing.ts) and the registry below. Everything that
 * lists detectors follows from the registry: the thresholds' schema and defaults, the default policy,
 * the docs table, state lifetimes, the runtime.
 */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { BUILT_IN, DetectorRegistry } from '../../../detectors/registry.ts';
import { detectors as detectorsTable } from '../../../tools/docs/blocks.ts';
import { REPO_ROOT } from '../../../tools/local-stack/paths.ts';
import { sessionClientMixing } from '../../fixtures/fifth-detector/session-client-mixing.ts';
import { asExpected, loadFixtures, runFixture } from '../../support/detector-fixtures.ts';

// the one registry line
const registry = new DetectorRegistry([...BUILT_IN, sessionClientMixing]);

describe('a fifth detector', () => {
  it('is known by its name everywhere the registry is used', () => {
    expect(registry.names).toEqual([...BUILT_IN.map((d) => d.name), 'session_client_mixing']);
    expect(registry.defaults['maxClientsPerSession']).toBe(1);
    expect(Value.Check(registry.thresholdsSchema, { maxClientsPerSession: 2 })).toBe(true);
    expect(Value.Check(registry.thresholdsSchema, { maxClientsPerSession: 0 })).toBe(false);
    expect(registry.defaultPolicy()['session_client_mixing']).toEqual({
      target: 'none',
      minSeverity: 'medium',
      dryRun: false,
    });
    expect(detectorsTable(registry)).toContain('| `session_client_mixing` |');
  });

  it('runs in the runtime beside the built-in ones, on its fixture', () => {
    const [fixture] = loadFixtures(`${REPO_ROOT}test/fixtures/fifth-detector`);
    expect(asExpected(runFixture(fixture!, fixture!.lines, registry))).toEqual(fixture!.expected);
  });

  it('refuses a second detector of the same name, or a threshold another one declares', () => {
    expect(() => new DetectorRegistry([...BUILT_IN, sessionClientMixing, sessionClientMixing])).toThrow(
      /registered twice/,
    );
    const clash = {
      ...sessionClientMixing,
      name: 'clash',
      thresholds: { graceWindowMs: BUILT_IN[0].thresholds.graceWindowMs },
    };
    expect(() => new DetectorRegistry([...BUILT_IN, clash])).toThrow(/already one of/);
  });
});
