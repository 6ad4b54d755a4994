import { createHmac } from 'node:crypto';

/**
 * The header every delivery carries: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
 * Stripe's scheme. The timestamp is inside what is signed, so a receiver that refuses old
 * timestamps cannot be fed a captured delivery later.
 */
export const SIGNATURE_HEADER = 'X-Castellan-Signature';

export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
