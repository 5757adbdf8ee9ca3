/** The HTTP door as the unit tests run it: the real events route on its own fastify, storing into memory. */
import Fastify, { type FastifyInstance } from 'fastify';
import { createMetrics } from '../../../../../ingest/metrics.ts';
import type { DeadLetterRow } from '../../../../../ingest/pipeline/rows.ts';
import { Stage } from '../../../../../ingest/pipeline/stage.ts';
import type { NormalizedEvent } from '../../../../../ingest/pipeline/validate.ts';
import { eventsRoute } from '../../../../../ingest/sources/http/events-route.ts';
import type { Intake } from '../../../../../ingest/sources/http/intake.ts';
import { TenantQuota } from '../../../../../ingest/sources/http/tenant-quota.ts';
import { ApiKeys } from '../../../../../platform/http/api-keys.ts';
import { answerErrors } from '../../../../../platform/http/errors.ts';
import { TEST_LIMITS } from '../../../helpers.ts';

export class MemoryIntake implements Intake {
  events: NormalizedEvent[] = [];
  letters: DeadLetterRow[] = [];
  async accept(events: NormalizedEvent[], letters: DeadLetterRow[]) {
    this.events.push(...events);
    this.letters.push(...letters);
  }
}

export interface DoorOptions {
  /** tenant → API key */
  keys: Record<string, string>;
  /** events per second per tenant (0: unlimited) */
  events?: number;
  /** bytes per second per tenant (0: unlimited) */
  bytes?: number;
  maxEvents?: number;
  rps?: number;
  inflating?: number;
  bodyLimit?: number;
}

/** The events route on a fresh fastify (not listening: inject, or listen to it). */
export async function eventsDoor(o: DoorOptions) {
  const metrics = createMetrics();
  const intake = new MemoryIntake();
  const bodyLimit = o.bodyLimit ?? 1 << 20;
  const stage = new Stage({ ...TEST_LIMITS, httpBodyBytes: bodyLimit }, metrics);
  const app: FastifyInstance = Fastify();
  answerErrors(app);
  await app.register(eventsRoute, {
    stage,
    intake,
    apiKeys: new ApiKeys(Object.entries(o.keys).map(([tenant, key]) => ({ tenant, key }))),
    metrics,
    bodyLimit,
    maxEvents: o.maxEvents ?? 100,
    eventQuota: new TenantQuota({
      perSecond: o.events ?? 0,
      burstSeconds: 1,
      minCapacity: o.maxEvents ?? 100,
    }),
    byteQuota: new TenantQuota({ perSecond: o.bytes ?? 0, burstSeconds: 1 }),
    maxInflating: o.inflating ?? 4,
    requestsPerSecondPerKey: o.rps ?? 0,
    maxEventLoopDelayMs: 0,
  });
  return { app, intake, metrics };
}
