/**
 * Settings as data: each stage declares its environment variables in a table — the variable, its
 * default (as the configuration page shows it), what it means, how it is read and checked — and
 * reads its own section from it. The configuration page (docs/configuration.md) is generated from
 * these tables, so a default documented is the default used. Empty counts as unset; every problem
 * names the variable, the value and what it must be, and is collected so one error lists them all.
 */
import type { Env } from './env.ts';

export type { Env };

/** One environment variable: how it is read, and how it is documented. */
export interface Setting<T> {
  readonly env: string;
  /** the default as the configuration page shows it, e.g. `8080`, (none), first of the topics */
  readonly shows: string;
  /** what it means, in a sentence or two (markdown) */
  readonly doc: string;
  /** the value from `env`, or the default; a problem is pushed (and the default returned) when it is invalid */
  read(env: Env, problems: string[]): T;
}

/** A section's table: its settings by the name of the value they give. */
export type SettingsTable = Record<string, Setting<unknown>>;
/** The values a table gives. */
export type ValuesOf<S extends SettingsTable> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

const raw = (env: Env, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
};
const code = (v: unknown) => `\`${Array.isArray(v) ? v.join(',') : String(v)}\``;

/** A default that may come from other variables (e.g. the first of a list). */
type Default<T> = T | ((env: Env) => T);
const defaultOf = <T>(d: Default<T>, env: Env): T =>
  typeof d === 'function' ? (d as (env: Env) => T)(env) : d;

export const setting = {
  /** An integer within [min, max]. */
  int(env: string, def: number, min: number, max: number, doc: string, shows?: string): Setting<number> {
    return {
      env,
      shows: shows ?? code(def),
      doc,
      read(e, problems) {
        const v = raw(e, env);
        if (v === undefined) return def;
        const n = Number(v);
        if (!Number.isInteger(n) || n < min || n > max) {
          problems.push(`${env}=${JSON.stringify(e[env])} must be an integer from ${min} to ${max}`);
          return def;
        }
        return n;
      },
    };
  },
  /** Text, trimmed; `check` says what is wrong with a value (undefined: fine). */
  str(
    env: string,
    def: Default<string>,
    doc: string,
    o: { shows?: string; check?: (v: string) => string | undefined } = {},
  ): Setting<string> {
    return {
      env,
      shows: o.shows ?? (typeof def === 'function' ? '(derived)' : def === '' ? '(none)' : code(def)),
      doc,
      read(e, problems) {
        const v = raw(e, env)?.trim();
        if (v === undefined) return defaultOf(def, e);
        const wrong = o.check?.(v);
        if (wrong !== undefined) {
          problems.push(`${env}=${JSON.stringify(v)} ${wrong}`);
          return defaultOf(def, e);
        }
        return v;
      },
    };
  },
  /** One of a closed set of words. */
  oneOf<const W extends string>(env: string, def: W, words: readonly W[], doc: string): Setting<W> {
    return {
      env,
      shows: code(def),
      doc,
      read(e, problems) {
        const v = raw(e, env)?.trim();
        if (v === undefined) return def;
        if (!(words as readonly string[]).includes(v)) {
          problems.push(`${env}=${JSON.stringify(v)} must be one of ${words.join(', ')}`);
          return def;
        }
        return v as W;
      },
    };
  },
  /** A secret: taken as is (not trimmed), never shown. */
  secret(env: string, doc: string): Setting<string> {
    return { env, shows: '(none)', doc, read: (e) => e[env] ?? '' };
  },
  /** true/false (also 1/0, yes/no, on/off). */
  bool(env: string, def: boolean, doc: string): Setting<boolean> {
    return {
      env,
      shows: code(def),
      doc,
      read(e, problems) {
        const v = raw(e, env)?.trim().toLowerCase();
        if (v === undefined) return def;
        if (['1', 'true', 'yes', 'on'].includes(v)) return true;
        if (['0', 'false', 'no', 'off'].includes(v)) return false;
        problems.push(`${env}=${JSON.stringify(e[env])} must be true or false`);
        return def;
      },
    };
  },
  /** A comma-separated list (entries trimmed, empty ones dropped); `check` says what is wrong with an entry. */
  list(
    env: string,
    def: Default<string[]>,
    doc: string,
    o: { shows?: string; check?: (entry: string) => string | undefined } = {},
  ): Setting<string[]> {
    return {
      env,
      shows: o.shows ?? (typeof def === 'function' ? '(derived)' : def.length === 0 ? '(none)' : code(def)),
      doc,
      read(e, problems) {
        const v = raw(e, env);
        if (v === undefined) return defaultOf(def, e);
        const entries = v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        for (const entry of entries) {
          const wrong = o.check?.(entry);
          if (wrong !== undefined) problems.push(`${env} entry ${JSON.stringify(entry)} ${wrong}`);
        }
        return entries;
      },
    };
  },
  /** Any reading of the variable the helpers above do not cover (documented like the others). */
  custom<T>(env: string, shows: string, doc: string, read: (env: Env, problems: string[]) => T): Setting<T> {
    return { env, shows, doc, read };
  },
};

/** Reads every setting of a table; problems are pushed onto `problems`. */
export function readTable<S extends SettingsTable>(table: S, env: Env, problems: string[]): ValuesOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) out[key] = s.read(env, problems);
  return out as ValuesOf<S>;
}

/** A section of the configuration page: a title, a sentence on what it configures, its table. */
export interface SettingsSection {
  title: string;
  about: string;
  table: SettingsTable;
}

/** The markdown table of a section (variable | default | meaning). */
export function renderTable(table: SettingsTable): string {
  const rows = Object.values(table).map(
    (s) => `| \`${s.env}\` | ${s.shows} | ${s.doc.replace(/\n/g, ' ')} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export const isHttpUrl = (v: string) => (/^https?:\/\/[^/]+/.test(v) ? undefined : 'must be an http(s) URL');
export const isIdentifier = (v: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'must be a plain identifier (letters, digits, _)';
