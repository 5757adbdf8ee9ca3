/**
 * Every query tokenwatch sends carries a `query_id` naming the module that sent it,
 * `tokenwatch:<module>:<uuid>`, so system.query_log and system.processes tell which part of tokenwatch
 * a slow or failing query belongs to (`WHERE query_id LIKE 'tokenwatch:detectors/run/history:%'`).
 */
import { randomUUID } from 'node:crypto';

/** A fresh query id for `module` (its path without `.ts`, e.g. `response/revoke/outbox`). */
export const queryId = (module: string): string => `tokenwatch:${module}:${randomUUID()}`;
