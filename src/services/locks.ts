import type { Tx } from '../events/store.js';

/**
 * Holds a transaction-scoped advisory lock named by `key` until the caller's
 * transaction ends. Used where "read, decide, write" must not interleave for
 * one logical thing that has no single row to lock (an OTP's subject and
 * purpose, a domain name across tenants).
 */
export async function lockFor(tx: Tx, key: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}::text, 0))`;
}
