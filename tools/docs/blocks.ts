/**
 * The generated parts of the docs: each block is rendered from the code it documents (the settings
 * tables, the detector registry, …), so a page cannot drift from what the service does. A page marks
 * a block with `<!-- generated: NAME -->` … `<!-- /generated -->`; `npm run docs` rewrites what lies
 * between, and a unit test fails while any page is stale.
 */
import { BUILT_IN, type DetectorRegistry, REGISTRY } from '../../detectors/registry.ts';
import { BASE_THRESHOLDS } from '../../detectors/thresholds.ts';
import { REJECT_CODES } from '../../ingest/pipeline/validate.ts';
import { HTTP_ERRORS } from '../../platform/http/errors.ts';
import { renderTable } from '../../platform/settings.ts';
import { CONFIGURATION } from '../../service/config.ts';
import { asyncApi, topicsTable } from './asyncapi.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown) => `\`${JSON.stringify(v)}\``;

function configuration(): string {
  return CONFIGURATION.map((s) => `### ${s.title}\n\n${s.about}.\n\n${renderTable(s.table)}`).join('\n\n');
}

/** The detectors' table (of the built-in registry, or another: a test adds a fifth). */
export function detectors(registry: DetectorRegistry = REGISTRY): string {
  const rows = registry.detectors.map(
    (d) =>
      `| \`${d.name}\` | ${cell(d.finds)} | ${cell(d.asks)} | \`${d.category}\` | ${d.policy.target}, from ${d.policy.minSeverity} |`,
  );
  return [
    '| detector | finds | action; severity | category | default policy |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function thresholds(): string {
  const owner = new Map<string, string>(Object.keys(BASE_THRESHOLDS).map((k) => [k, 'all']));
  for (const d of BUILT_IN) for (const k of Object.keys(d.thresholds)) owner.set(k, `\`${d.name}\``);
  const rows = Object.entries(REGISTRY.thresholdFields).map(([name, field]) => {
    const f = field as { default: unknown; description: string };
    return `| \`${name}\` | ${code(f.default)} | ${owner.get(name)} | ${cell(f.description)} |`;
  });
  return ['| threshold | default | used by | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function errors(): string {
  const rows = Object.entries(HTTP_ERRORS).map(
    ([code, e]) => `| \`${code}\` | ${e.status} | ${cell(e.means)} | ${cell(e.fix)} |`,
  );
  return ['| `error` | status | means | what to do |', '|---|---|---|---|', ...rows].join('\n');
}

function rejects(): string {
  const rows = Object.entries(REJECT_CODES).map(([code, means]) => `| \`${code}\` | ${cell(means)} |`);
  return ['| `code` | means |', '|---|---|', ...rows].join('\n');
}

/** Every generated block, by the name pages mark it with. */
export const BLOCKS: Record<string, () => string> = {
  configuration,
  detectors,
  thresholds,
  errors,
  rejects,
  topics: topicsTable,
};

/** Whole generated files under docs/, by name. */
export const FILES: Record<string, () => string> = {
  'asyncapi.json': () => `${JSON.stringify(asyncApi(), null, 2)}\n`,
};

const MARK = /(<!-- generated: ([a-z-]+) -->)[\s\S]*?(<!-- \/generated -->)/g;

/** The page with each of its generated blocks rendered afresh; throws on a block no one renders. */
export function renderPage(text: string, page: string): string {
  return text.replace(MARK, (_all, open: string, name: string, close: string) => {
    const block = BLOCKS[name];
    if (block === undefined)
      throw new Error(
        `${page}: unknown generated block "${name}" (known: ${Object.keys(BLOCKS).join(', ')})`,
      );
    return `${open}\n${block()}\n${close}`;
  });
}
