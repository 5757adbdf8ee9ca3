/**
 * Reading settings from environment variables: empty counts as unset, and every problem is
 * collected (naming the variable, its value and what it must be) so that one error can list them
 * all. Used by tokenwatch's configuration and the demo's attach mode.
 */
export type Env = Record<string, string | undefined>;

export function envReader(env: Env) {
  const problems: string[] = [];
  const str = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? fallback : v.trim();
  };
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name, String(fallback)).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name}=${JSON.stringify(env[name])} must be true or false`);
    return fallback;
  };
  /** A comma-separated list, entries trimmed, empty entries dropped. */
  const list = (name: string, fallback: string): string[] =>
    str(name, fallback)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return { problems, str, int, bool, list };
}
