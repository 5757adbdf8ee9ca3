/** Alert webhooks: targets, body formats, signatures and the dispatcher that groups and delivers. */
export type { DeliveryRecord, RetryPolicy } from './delivery.ts';
export { DELIVERY_HEADER } from './delivery.ts';
export type { WebhookDispatcherOptions } from './dispatcher.ts';
export { WebhookDispatcher } from './dispatcher.ts';
export type { StormSummary, WebhookFormat, WebhookMessage } from './formats.ts';
export { renderBody, WEBHOOK_FORMATS } from './formats.ts';
export type { VerifyWebhookOptions, VerifyWebhookResult } from './signature.ts';
export { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './signature.ts';
export type { WebhookTarget } from './targets.ts';
export { ALERT_KINDS, matches, parseWebhookTargets } from './targets.ts';
