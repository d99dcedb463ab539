import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { PrismaClient } from '../generated/prisma/client.js';

export interface RateLimit {
  /** Counts one attempt for `key`; resolves with the seconds to wait when over the limit, or null. */
  consume(key: string): Promise<number | null>;
}

/**
 * rate-limiter-flexible's PostgreSQL store counts an attempt in one upsert (its Prisma store needs two
 * statements); this client sends its statements through Prisma, on whichever database idgraph runs.
 * `expire` is milliseconds since the epoch, a bigint the store reads as a number.
 */
function storeClient(db: PrismaClient) {
  return {
    async query({ text, values }: { text: string; values: unknown[] }) {
      const rows = await db.$queryRawUnsafe<Array<{ points: number; expire: bigint | number | null }>>(text, ...values);
      return {
        rows: rows.map((row) => ({ points: Number(row.points), expire: row.expire === null ? null : Number(row.expire) })),
        rowCount: rows.length,
      };
    },
  };
}

/**
 * A fixed-window limit kept in the database (rate_limits), so every replica on
 * it shares the count. `points` 0 disables the limit.
 */
export function createRateLimit(db: PrismaClient, options: { name: string; points: number; durationSeconds: number }): RateLimit {
  if (options.points <= 0) return { consume: async () => null };
  const limiter = new RateLimiterPostgres({
    storeClient: storeClient(db),
    storeType: 'client',
    tableName: 'rate_limits',
    // The table is the migrations' (prisma/schema.prisma RateLimit), expired rows are overwritten in place.
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix: options.name,
    points: options.points,
    duration: options.durationSeconds,
  });
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return null;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw rejection;
      }
    },
  };
}
