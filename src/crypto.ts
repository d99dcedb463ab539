import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

// Secrets idgraph hands out (refresh tokens, link tokens, invitation tokens,
// API-key secrets) are high-entropy random values: a SHA-256 is the right
// hash for them at rest, and comparisons never leak where values differ.

export const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

export const randomUrlToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** A numeric one-time code of `length` digits, uniformly drawn. */
export function numericOtp(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += randomInt(10).toString();
  return out;
}

/** Compares two strings in time independent of where they differ (and of their lengths). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
