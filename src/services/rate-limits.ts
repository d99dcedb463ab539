import { RateLimiterPrisma, RateLimiterRes } from 'rate-limiter-flexible';
import type { PrismaClient } from '../generated/prisma/client.js';

export interface RateLimit {
  /** Counts one attempt for `key`; resolves with the seconds to wait when over the limit, or null. */
  consume(key: string): Promise<number | null>;
}

/**
 * A fixed-window limit kept in the database (rate_limits), so every replica on
 * it shares the count. `points` 0 disables the limit.
 */
export function createRateLimit(db: PrismaClient, options: { name: string; points: number; durationSeconds: number }): RateLimit {
  if (options.points <= 0) return { consume: async () => null };
  const limiter = new RateLimiterPrisma({
    storeClient: db,
    tableName: 'rateLimit',
    keyPrefix: options.name,
    points: options.points,
    duration: options.durationSeconds,
    clearExpiredByTimeout: false,
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
