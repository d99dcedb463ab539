import type { Redis } from 'ioredis';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { redisKeyPrefix, viaRedis } from '../db/redis.js';
import type { PrismaClient } from '../generated/prisma/client.js';

export interface RateLimit {
  /** Counts one attempt for `key`; resolves with the seconds to wait when over the limit, or null. */
  consume(key: string): Promise<number | null>;
  /** Without counting: the seconds to wait when `key` has already used every point of its window, or null. */
  waitFor(key: string): Promise<number | null>;
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

/** Where the counts live: the database (rate_limits), or Redis when REDIS_URL is set. */
export type RateLimitStore = { db: PrismaClient; redis: Redis | null };

/**
 * A fixed-window limit kept in the database (rate_limits) or in Redis, so every
 * replica on it shares the count. `points` 0 disables the limit. When Redis does
 * not answer, the attempt fails with 503 `unavailable`: it is not let through uncounted.
 */
export function createRateLimit(store: RateLimitStore, options: { name: string; points: number; durationSeconds: number }): RateLimit {
  if (options.points <= 0) return { consume: async () => null, waitFor: async () => null };
  const window = { points: options.points, duration: options.durationSeconds };
  const limiter = store.redis
    ? new RateLimiterRedis({ storeClient: store.redis, keyPrefix: `${redisKeyPrefix}rl:${options.name}`, rejectIfRedisNotReady: true, ...window })
    : new RateLimiterPostgres({
        storeClient: storeClient(store.db),
        storeType: 'client',
        tableName: 'rate_limits',
        // The table is the migrations' (prisma/schema.prisma RateLimit), expired rows are overwritten in place.
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix: options.name,
        ...window,
      });
  const consume = async (key: string) => {
    try {
      await limiter.consume(key);
      return null;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw rejection;
    }
  };
  const waitFor = async (key: string) => {
    const used = await limiter.get(key);
    return used && used.consumedPoints >= options.points && used.msBeforeNext > 0 ? Math.max(1, Math.ceil(used.msBeforeNext / 1000)) : null;
  };
  return store.redis
    ? { consume: (key) => viaRedis(() => consume(key)), waitFor: (key) => viaRedis(() => waitFor(key)) }
    : { consume, waitFor };
}
