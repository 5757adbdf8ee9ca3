/**
 * What a detector is: one descriptor in one file — its name, what it finds, its thresholds (each a
 * typed field with its default and description), its default response policy, and `detect`, a pure
 * function of (keyed state, event, thresholds) → findings. The registry (registry.ts) lists the
 * descriptors; every list of detector names, the settings schema, the default policy and the docs
 * table derive from it. Adding a detector is one new file and one registry line.
 */
import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { KeyedState } from './state.ts';
import type { BaseThresholds } from './thresholds.ts';
import type { DetectorEvent, Finding, PolicyTarget, Severity } from './types.ts';

/** What a detector's `detect` is handed: the shared thresholds and its own, typed. */
export type ThresholdsOf<P extends TProperties> = BaseThresholds & Static<TObject<P>>;

export interface DetectorDescriptor<P extends TProperties = TProperties, N extends string = string> {
  /** as stored in `detections.detector` and named in settings, policy, metrics and the read API */
  readonly name: N;
  /** what it flags, in one sentence (the docs table) */
  readonly finds: string;
  /** the action it asks for and its severity, in words (the docs table) */
  readonly asks: string;
  /** what its findings are evidence of: one token in the hands of more than one client, or attempts at forging one */
  readonly category: 'token_reuse' | 'forgery';
  /** its own thresholds: TypeBox fields, each with `default` and `description` (names unique across detectors) */
  readonly thresholds: P;
  /** the response policy when the operator's file sets none */
  readonly policy: { readonly target: PolicyTarget; readonly minSeverity: Severity };
  /** how long its windowed state must be kept (ms of event time), beyond the tracked keys' lifetimes */
  windowMs?(t: ThresholdsOf<P>): number;
  /** updates the state it is handed and returns its findings; no I/O, no clock but the events' own */
  detect(k: KeyedState, e: DetectorEvent, t: ThresholdsOf<P>): Finding[];
}

/**
 * A descriptor as the registry holds it. (Its methods take the merged thresholds of every detector,
 * a superset of each one's own: method parameters are bivariant, so any descriptor fits.)
 */
export type AnyDetector = DetectorDescriptor<TProperties, string>;

/** The function every detector is: state, event, thresholds → findings. */
export type Detector = AnyDetector['detect'];

/** Declares a detector (typed: `detect` sees its own thresholds with their static types). */
export function defineDetector<P extends TProperties, N extends string>(
  d: DetectorDescriptor<P, N>,
): DetectorDescriptor<P, N> {
  return Object.freeze(d);
}
