import type { DocumentedWebhook } from '../http/openapi.js';
import { envelopeSchema, EVENT_SUMMARIES, EVENT_TYPES } from './events.js';
import { SIGNATURE_HEADER } from './signature.js';

const HEADERS: Record<string, string> = {
  [SIGNATURE_HEADER]: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with WEBHOOK_SECRET>: recompute over the raw body, compare in constant time, refuse a t older than a few minutes',
  'X-Castellan-Event-Id': "the body's id, the same on every retry: deduplicate on it",
  'X-Castellan-Event-Type': "the body's type",
  'X-Castellan-Delivery-Attempt': '1 for the first attempt, then 2, 3, ...',
};

const RESPONSES: Record<string, string> = {
  '2XX': 'received: the event is not sent again',
  default: 'anything else (or no answer within WEBHOOK_TIMEOUT_MS, or a redirect) is retried with exponential backoff; the company\'s later events wait behind it',
};

/** The webhooks section of /openapi.json: one entry per event type, each with its envelope and data. */
export const webhookDocs = (): DocumentedWebhook[] =>
  EVENT_TYPES.map((type) => ({ name: type, summary: EVENT_SUMMARIES[type], body: envelopeSchema(type), headers: HEADERS, responses: RESPONSES }));
