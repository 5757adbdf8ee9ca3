/**
 * Expands a panel's SQL the way Grafana and the ClickHouse plugin (v4) do before ClickHouse sees it:
 * first in the browser `$__conditionalAll(cond, $var)` (`1=1` when the variable is empty or All),
 * then template variables (`$var`, `${var}`, `${var:format}` — singlequote, sqlstring, percentencode,
 * queryparam, raw, csv —, `[[var]]`; the plugin's own format
 * quotes multi-values as `'a','b'` and leaves a single value raw), then in the plugin's backend
 * the time macros. Used by the tests (every panel's SQL on a real ClickHouse) and the benchmark.
 */

/** The value a variable has when "All" is selected (Grafana's `$__all`). */
export const ALL = '$__all';

export type VariableValue = string | readonly string[];

export interface QueryContext {
  fromMs: number;
  toMs: number;
  /** the panel's interval (Grafana: the range over max data points, at least the panel's min interval) */
  intervalS: number;
  variables: Readonly<Record<string, VariableValue>>;
}

export class MacroError extends Error {
  readonly code = 'ERR_TOKENWATCH_DASHBOARD_MACRO';
}

export function expandQuery(rawSql: string, ctx: QueryContext): string {
  return expandTimeMacros(replaceVariables(applyConditionalAll(rawSql, ctx.variables), ctx.variables), ctx);
}

const isAll = (v: VariableValue | undefined) =>
  v === undefined || v === '' || v === ALL || (Array.isArray(v) && (v.length === 0 || v.includes(ALL)));

/** The arguments of the macro call whose `(` is at `open`, split on top-level commas; and where it ends. */
function macroArgs(sql: string, open: number, name: string): { args: string[]; end: number } {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if ((c === ',' && depth === 1) || depth === 0) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
    if (depth === 0) return { args, end: i + 1 };
  }
  throw new MacroError(
    `unclosed parenthesis after $__${name} in: ${sql.slice(open - name.length - 3, open + 60)}`,
  );
}

function applyConditionalAll(sql: string, vars: QueryContext['variables']): string {
  const macro = '$__conditionalAll(';
  let out = sql;
  for (let at = out.lastIndexOf(macro); at !== -1; at = out.lastIndexOf(macro)) {
    const { args, end } = macroArgs(out, at + macro.length - 1, 'conditionalAll');
    if (args.length !== 2) throw new MacroError(`$__conditionalAll takes 2 arguments, got ${args.length}`);
    const [phrase = '', varRef = ''] = args;
    const name = /^\s*\$\{?(\w+)\}?\s*$/.exec(varRef)?.[1];
    if (name === undefined)
      throw new MacroError(`$__conditionalAll's second argument must be a variable: ${varRef}`);
    out = out.slice(0, at) + (isAll(vars[name]) ? '1=1' : phrase) + out.slice(end);
  }
  return out;
}

/** Grafana's `singlequote` format: `\'` inside, each value quoted, joined by commas. */
const singleQuote = (values: readonly string[]) =>
  values.map((v) => `'${v.replaceAll("'", "\\'")}'`).join(',');

/** Grafana's `encodeURIComponentStrict`: encodeURIComponent, and `!'()*` too. */
const percentEncode = (v: string) =>
  encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function formatValue(name: string, value: VariableValue, format: string | undefined): string {
  const values = typeof value === 'string' ? [value] : value;
  if (values.includes(ALL)) {
    throw new MacroError(
      `variable $${name} is All here but is used outside $__conditionalAll: Grafana would list every value`,
    );
  }
  switch (format) {
    case undefined: // the plugin's format
      return typeof value === 'string' ? value : `'${values.join("','")}'`;
    case 'singlequote':
      return singleQuote(values);
    case 'sqlstring':
      return values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',');
    case 'percentencode': // Grafana: a multi-value is encoded as the glob `{a,b}`
      return percentEncode(typeof value === 'string' ? value : `{${values.join(',')}}`);
    case 'queryparam':
      return values.map((v) => `var-${name}=${percentEncode(v)}`).join('&');
    case 'raw':
    case 'csv':
      return values.join(',');
    default:
      throw new MacroError(`variable format :${format} is not supported here (variable $${name})`);
  }
}

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;

function replaceVariables(sql: string, vars: QueryContext['variables']): string {
  return sql.replace(
    VARIABLE,
    (match, bare?: string, bracket?: string, bracketFormat?: string, braced?: string, format?: string) => {
      const name = bare ?? bracket ?? braced ?? '';
      if (name.startsWith('__')) return match; // Grafana's globals and the plugin's macros
      const value = vars[name];
      if (value === undefined)
        throw new MacroError(`the query uses $${name}, which the dashboard does not define`);
      return formatValue(name, value, format ?? bracketFormat);
    },
  );
}

const dateTime = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`;
const dateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.floor(ms)})`;
const date = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;

function expandTimeMacros(sql: string, ctx: QueryContext): string {
  const intervalS = Math.max(1, Math.floor(ctx.intervalS));
  const one = (name: string, args: string[]) => {
    if (args.length !== 1) throw new MacroError(`$__${name} takes 1 argument, got ${args.length}`);
    return args[0]!.trim();
  };
  const expanders: Record<string, (args: string[]) => string> = {
    fromTime: () => dateTime(ctx.fromMs),
    toTime: () => dateTime(ctx.toMs),
    fromTime_ms: () => dateTime64(ctx.fromMs),
    toTime_ms: () => dateTime64(ctx.toMs),
    interval_s: () => String(intervalS),
    timeFilter: (a) => {
      const c = one('timeFilter', a);
      return `${c} >= ${dateTime(ctx.fromMs)} AND ${c} <= ${dateTime(ctx.toMs)}`;
    },
    timeFilter_ms: (a) => {
      const c = one('timeFilter_ms', a);
      return `${c} >= ${dateTime64(ctx.fromMs)} AND ${c} <= ${dateTime64(ctx.toMs)}`;
    },
    dateFilter: (a) => {
      const c = one('dateFilter', a);
      return `${c} >= ${date(ctx.fromMs)} AND ${c} <= ${date(ctx.toMs)}`;
    },
    timeInterval: (a) =>
      `toStartOfInterval(toDateTime(${one('timeInterval', a)}), INTERVAL ${intervalS} second)`,
  };
  let out = '';
  let rest = sql;
  for (let m = /\$__(\w+)/.exec(rest); m !== null; m = /\$__(\w+)/.exec(rest)) {
    const name = m[1]!;
    const expand = expanders[name];
    if (expand === undefined) throw new MacroError(`unknown macro $__${name}`);
    const after = m.index + m[0].length;
    if (rest[after] === '(') {
      const { args, end } = macroArgs(rest, after, name);
      out += rest.slice(0, m.index) + expand(args);
      rest = rest.slice(end);
    } else {
      out += rest.slice(0, m.index) + expand([]);
      rest = rest.slice(after);
    }
  }
  return out + rest;
}
