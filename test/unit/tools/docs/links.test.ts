/**
 * The manual's links hold: every relative link in README.md, docs/*.md and every folder's README
 * names a file or folder that exists, and every `#anchor` into a markdown page names one of its
 * headings, slugged the way GitHub does (lowercase, spaces → `-`, punctuation other than `-` and `_`
 * dropped, `-1`, `-2`… for repeats). A moved section or a renamed file fails here, not in a reader's
 * browser. Links inside code (fenced blocks, `inline`) are text, not links, and are not checked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../../tools/local-stack/paths.ts';

/** GitHub's anchor for a heading's text (github-slugger): markup to text, then the slug rules. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text
    .replace(/<[^>]+>/g, '') // HTML tags
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The text outside fenced code blocks, line by line (fenced lines become empty: line numbers stay). */
function outsideFences(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && m !== null) {
      fence = m[1]!;
      return '';
    }
    if (fence !== undefined) {
      if (m !== null && m[1]!.startsWith(fence[0]!) && m[1]!.length >= fence.length) fence = undefined;
      return '';
    }
    return line;
  });
}

/** Every anchor a markdown page offers: its headings' slugs (repeats numbered) and `<a id|name>`. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of outsideFences(text)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h !== null) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1]!);
  }
  return anchors;
}

/** The link targets of a markdown page, with their line numbers: inline links, images, references. */
function linksOf(text: string): { line: number; target: string }[] {
  const links: { line: number; target: string }[] = [];
  outsideFences(text).forEach((raw, i) => {
    const line = raw.replace(/(`+)[\s\S]*?\1/g, ''); // inline code is text
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      links.push({ line: i + 1, target: m[1]! });
    const ref = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (ref !== null) links.push({ line: i + 1, target: ref[1]! });
  });
  return links;
}

/**
 * What is wrong with the links of `page` (a path from the repository root): each as
 * `page:line: target — why`. `read` gives a page's text (undefined: no such file), `exists` whether
 * a path (file or folder) exists.
 */
function brokenLinks(
  page: string,
  read: (path: string) => string | undefined,
  exists: (path: string) => boolean,
): string[] {
  const text = read(page);
  if (text === undefined) return [`${page}: no such page`];
  const broken: string[] = [];
  for (const { line, target } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …: not a file of ours
    const hash = target.indexOf('#');
    const file = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const path = file === '' ? page : normalize(join(dirname(page), file)).replace(/\/$/, '');
    const where = `${page}:${line}: ${target}`;
    if (path.startsWith('..') || path.startsWith('/')) {
      broken.push(`${where} — leaves the repository`);
      continue;
    }
    if (!exists(path)) {
      broken.push(`${where} — ${path} does not exist`);
      continue;
    }
    if (anchor === undefined || !path.endsWith('.md')) continue;
    const anchors = anchorsOf(read(path) ?? '');
    if (!anchors.has(anchor)) broken.push(`${where} — ${path} has no heading #${anchor}`);
  }
  return broken;
}

const onDisk = (path: string) => existsSync(join(REPO_ROOT, path));
const readOnDisk = (path: string) => {
  const full = join(REPO_ROOT, path);
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
};

/** README.md, every page under docs/, and every folder's README (tracked, or new and not ignored). */
const pages = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*README.md'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f.endsWith('/README.md') && existsSync(join(REPO_ROOT, f))),
];

describe('the link check', () => {
  it('slugs headings as GitHub does', () => {
    expect(slug('Limits')).toBe('limits');
    expect(slug('`GET /v1/revocations`: revocation notices for pollers')).toBe(
      'get-v1revocations-revocation-notices-for-pollers',
    );
    expect(slug('Revocation notices (for verifiers’ denylists)')).toBe(
      'revocation-notices-for-verifiers-denylists',
    );
    expect(slug('The event v1')).toBe('the-event-v1');
    expect(slug('refresh_replay & friends')).toBe('refresh_replay--friends');
    expect(slug('See [the docs](docs/x.md)')).toBe('see-the-docs');
  });

  it('numbers repeated headings and ignores headings inside code', () => {
    const anchors = anchorsOf(
      '# A\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n<a id="custom"></a>\n',
    );
    expect([...anchors]).toEqual(['a', 'notes', 'notes-1', 'custom']);
  });

  it('reports a link to a missing file and an anchor no heading has, and nothing in code', () => {
    const files: Record<string, string> = {
      'docs/a.md': [
        '# A',
        'See [b](b.md), [b’s part](b.md#part), [gone](missing.md), [nowhere](b.md#no-such-part),',
        '[here](#a), [the repo](../README.md), [out](../../elsewhere.md) and [site](https://example.com).',
        '`[not a link](missing.md)`',
        '```md',
        '[not a link either](missing.md)',
        '```',
        '[ref]: ../tools/',
      ].join('\n'),
      'docs/b.md': '# B\n\n## Part\n',
      'README.md': '# tokenwatch\n',
      tools: '',
    };
    const broken = brokenLinks(
      'docs/a.md',
      (p) => files[p],
      (p) => p in files || p === 'tools',
    );
    expect(broken).toEqual([
      'docs/a.md:2: missing.md — docs/missing.md does not exist',
      'docs/a.md:2: b.md#no-such-part — docs/b.md has no heading #no-such-part',
      'docs/a.md:3: ../../elsewhere.md — leaves the repository',
    ]);
  });
});

describe('links in the manual', () => {
  it('checks README.md, the docs pages and the folder READMEs', () => {
    expect(pages).toContain('README.md');
    expect(pages).toContain('docs/architecture.md');
    expect(pages).toContain('sdk/README.md');
  });

  it.each(pages)('%s: every relative link and anchor resolves', (page) => {
    expect(brokenLinks(page, readOnDisk, onDisk)).toEqual([]);
  });
});
