/** SQL pieces the dashboards share. Every query must run on ClickHouse 18.16 and on current ClickHouse. */

/**
 * The start of the panel's interval containing `column` (a DateTime). Written out because 18.16
 * has no `toStartOfInterval`, which the plugin's `$__timeInterval` expands to. Alias it
 * `interval_start`, never like a column: an alias shadows the column in WHERE, and
 * `$__timeFilter(time)` would then filter the buckets and drop the first, partial one.
 */
export const bucket = (column: string) =>
  `toDateTime(intDiv(toUInt32(${column}), $__interval_s) * $__interval_s)`;

/** The tenant variable (multi-value, with All): no condition at all when All is selected. */
export const TENANTS = '$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)';

/** The source variable (multi-value, with All). */
export const SOURCES = '$__conditionalAll(source IN (${source:singlequote}), $source)';

/** Final statuses of a revocation (the others, pending and retrying, are on the way). */
export const FINAL_STATUSES = "('done', 'not_found', 'failed', 'dry_run', 'suppressed', 'denylist_only')";
