import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../crypto.js';

// Standard Webhooks (standardwebhooks.com), as GoTrue signs its HTTP hooks:
// HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" with the key in
// the secret "v1,whsec_<base64>", sent as "v1,<base64 signature>" (several
// space-separated during a secret rotation).

/** Older or newer messages are refused, so a captured one cannot be replayed later. */
const TOLERANCE_SECONDS = 5 * 60;

const keyOf = (secret: string) => Buffer.from(secret.replace(/^v1,/, '').replace(/^whsec_/, ''), 'base64');
const signatureOf = (key: Buffer, id: string, timestamp: string, body: string) =>
  createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');

export type WebhookHeaders = Record<string, string | string[] | undefined>;
type SignedHeaders = Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>;

const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) ?? '';

/** True when one of the signatures matches under `secret` and the timestamp is recent; compared in constant time. */
export function verifyStandardWebhook({ secret, headers, body, now }: { secret: string; headers: WebhookHeaders; body: string; now: number }): boolean {
  const id = one(headers['webhook-id']);
  const timestamp = one(headers['webhook-timestamp']);
  const signatures = one(headers['webhook-signature']).split(' ').filter(Boolean);
  if (!id || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) return false;
  if (Math.abs(Math.floor(now / 1000) - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const expected = `v1,${signatureOf(keyOf(secret), id, timestamp, body)}`;
  // Every candidate is compared, so the time spent does not say which one matched.
  return signatures.map((candidate) => constantTimeEqual(candidate, expected)).includes(true);
}

/** The headers GoTrue sends with a hook call (used by tests and by anyone calling the hook by hand). */
export function signStandardWebhook({ secret, id, body, now }: { secret: string; id: string; body: string; now: number }): SignedHeaders {
  const timestamp = String(Math.floor(now / 1000));
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signatureOf(keyOf(secret), id, timestamp, body)}` };
}
