/**
 * Webhook targets: where alerts go, in which format, signed with which secret, and which alerts
 * each one wants. `parseWebhookTargets` checks a JSON array of targets and says, for the first
 * problem of each target, which target, which field and what to write instead.
 */
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { REGISTRY } from '../../detectors/registry.ts';
import type { Severity } from '../../detectors/types.ts';
import { type Alert, type AlertKind, SEVERITIES, severityRank } from '../alert.ts';
import { WEBHOOK_FORMATS, type WebhookFormat } from './formats.ts';

export const ALERT_KINDS: readonly AlertKind[] = ['detection', 'guard_tripped', 'revocation_failed'];

export interface WebhookTarget {
  /** names the target in logs and delivery records (never the URL: it may hold a token) */
  name: string;
  url: string;
  format: WebhookFormat;
  /** HMAC key of the `Tokenwatch-Signature` header; '' sends unsigned */
  secret: string;
  /** also signs with this one while receivers move to `secret` (rotation); '' when none */
  previousSecret: string;
  /** alerts below this severity are not sent */
  minSeverity: Severity;
  /** detections of these detectors only; empty = all (alerts without a detector always pass) */
  detectors: string[];
  /** these kinds of alert only; empty = all */
  kinds: AlertKind[];
  /** extra request headers, e.g. Authorization for Alertmanager */
  headers: Record<string, string>;
}

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

const TargetSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    url: Type.String({ minLength: 1 }),
    format: literals(WEBHOOK_FORMATS),
    secret: Type.Optional(Type.String()),
    previousSecret: Type.Optional(Type.String()),
    minSeverity: Type.Optional(literals(SEVERITIES)),
    detectors: Type.Optional(Type.Array(literals(REGISTRY.names))),
    kinds: Type.Optional(Type.Array(literals(ALERT_KINDS))),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: false },
);
type TargetInput = Static<typeof TargetSchema>;
const checkTarget = TypeCompiler.Compile(TargetSchema);

/** What each field must be, for error messages. */
const EXPECTED: Record<keyof TargetInput, string> = {
  name: 'a non-empty string, unique among the targets',
  url: 'an http:// or https:// URL',
  format: `one of ${WEBHOOK_FORMATS.join(', ')}`,
  secret: 'a string (the HMAC key receivers verify with), or absent to send unsigned',
  previousSecret: 'a string (the secret being rotated out), or absent',
  minSeverity: `one of ${SEVERITIES.join(', ')}`,
  detectors: `an array of detector names (${REGISTRY.names.join(', ')}); empty or absent = all`,
  kinds: `an array of alert kinds (${ALERT_KINDS.join(', ')}); empty or absent = all`,
  headers: 'an object of header name → string value',
};

/** Headers the dispatcher sets itself. */
const RESERVED_HEADERS = [
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'tokenwatch-delivery',
  'tokenwatch-signature',
];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The targets in `json` (an array, e.g. parsed from a file or an environment variable named by
 * `source`); throws an Error naming the source, the target and the field when anything is wrong.
 */
export function parseWebhookTargets(json: unknown, source: string): WebhookTarget[] {
  const fail = (where: string, problem: string): never => {
    throw new Error(`webhook targets in ${source}: ${where}: ${problem}`);
  };
  if (!Array.isArray(json)) {
    fail(
      '(top level)',
      `expected an array of targets, got ${describe(json)}; write [{ "name": …, "url": … }]`,
    );
  }
  const targets: WebhookTarget[] = [];
  const names = new Set<string>();
  (json as unknown[]).forEach((item, index) => {
    const name =
      typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string'
        ? (item as { name: string }).name
        : '';
    const where = `target ${index}${name === '' ? '' : ` (${JSON.stringify(name)})`}`;
    const error = checkTarget.Errors(item).First();
    if (error !== undefined) fail(where, schemaProblem(error.path, error.value));
    const t = item as TargetInput;
    if (names.has(t.name))
      fail(where, `name: ${JSON.stringify(t.name)} is used twice; give each target its own name`);
    names.add(t.name);
    const url = URL.parse(t.url);
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      fail(where, `url is ${JSON.stringify(t.url)}; it must be ${EXPECTED.url}`);
    }
    for (const header of Object.keys(t.headers ?? {})) {
      if (!HEADER_NAME.test(header)) fail(where, `headers: ${JSON.stringify(header)} is not a header name`);
      if (RESERVED_HEADERS.includes(header.toLowerCase())) {
        fail(where, `headers: ${header} is set by tokenwatch itself; remove it from the target`);
      }
    }
    for (const [header, value] of Object.entries(t.headers ?? {})) {
      if (/[\r\n]/.test(value)) fail(where, `headers: the value of ${header} holds a line break; remove it`);
    }
    targets.push({
      name: t.name,
      url: t.url,
      format: t.format,
      secret: t.secret ?? '',
      previousSecret: t.previousSecret ?? '',
      minSeverity: t.minSeverity ?? 'low',
      detectors: t.detectors ?? [],
      kinds: t.kinds ?? [],
      headers: t.headers ?? {},
    });
  });
  return targets;
}

/** The problem at a TypeBox error path ("", "/format", "/detectors/0", "/headers/x-y", "/nme"). */
function schemaProblem(path: string, value: unknown): string {
  const field = path.split('/')[1] ?? '';
  if (field === '') {
    return `expected an object with ${Object.keys(EXPECTED).join(', ')}, got ${describe(value)}`;
  }
  if (!(field in EXPECTED)) {
    return `unknown field ${JSON.stringify(field)}; the fields are ${Object.keys(EXPECTED).join(', ')}`;
  }
  const got =
    value === undefined ? 'missing' : `${describe(value)}${path === `/${field}` ? '' : ` at ${path}`}`;
  return `${field} is ${got}; it must be ${EXPECTED[field as keyof TargetInput]}`;
}

const describe = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 79)}…` : text;
};

/** Whether `target` wants `alert`. */
export function matches(target: WebhookTarget, alert: Alert): boolean {
  return (
    severityRank(alert.severity) >= severityRank(target.minSeverity) &&
    (target.kinds.length === 0 || target.kinds.includes(alert.kind)) &&
    (target.detectors.length === 0 || alert.detector === '' || target.detectors.includes(alert.detector))
  );
}
