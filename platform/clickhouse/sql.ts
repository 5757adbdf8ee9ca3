/** SQL literal quoting for values ClickHouse 18.16 cannot take as query parameters. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
