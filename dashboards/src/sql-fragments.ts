/** SQL pieces the dashboards share. Every query must run on ClickHouse 18.16 and on current ClickHouse. */

/**
 * The start of the panel's interval containing `column` (a DateTime). Written out because 18.16
 * has no `toStartOfInterval`, which the plugin's `$__timeInterval` expands to. Alias it
 * `interval_start`, never like a column: an alias shadows the column in WHERE, and
 * `$__timeFilter(time)` would then filter the buckets and drop the first, partial one.
 */
export const bucket = (column: string) =>
  `toDateTime(intDiv(toUInt32(${column}), $__interval_s) * $__interval_s)`;

/**
 * A single-value variable as a ClickHouse string, whatever it holds. Grafana's quoting formats
 * (`singlequote`, `sqlstring`) escape `'` but not `\`, which ClickHouse reads as an escape inside a
 * string: a value ending in `\` would close the literal and let the rest of it run as SQL. The
 * `percentencode` format leaves only `A-Z a-z 0-9 - _ . ~ %` (never a quote or a backslash), and
 * `decodeURLComponent` (18.16 and current) turns it back into the value typed in.
 */
export const textValue = (name: string) => `decodeURLComponent('\${${name}:percentencode}')`;

/**
 * A multi-value variable as a subquery of its values, each escaped the same way: the `queryparam`
 * format writes `var-<name>=<percent-encoded value>` joined by `&`, split and decoded here.
 */
export const valueList = (name: string) =>
  `(SELECT arrayJoin(arrayMap(x -> decodeURLComponent(substring(x, ${name.length + 6})), splitByChar('&', '\${${name}:queryparam}'))))`;

/** The tenant variable (multi-value, with All): no condition at all when All is selected. */
export const TENANTS = `$__conditionalAll(tenant IN ${valueList('tenant')}, $tenant)`;

/** The source variable (multi-value, with All): sources are named by reporters, so escaped like any value. */
export const SOURCES = `$__conditionalAll(source IN ${valueList('source')}, $source)`;

/** Final statuses of a revocation (the others, pending and retrying, are on the way). */
export const FINAL_STATUSES = "('done', 'not_found', 'failed', 'dry_run', 'suppressed', 'denylist_only')";
