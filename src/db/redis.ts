import { Redis } from 'ioredis';
import { redactValue } from '../config.js';
import { AppError } from '../errors.js';
import { storeUnavailable } from './errors.js';
import type { Logger } from '../log.js';

/** Every key idgraph writes starts with this, so a Redis shared with other applications stays tidy. */
export const redisKeyPrefix = 'idgraph:';

const COMMAND_TIMEOUT_MS = 2000;

/**
 * The Redis client (REDIS_URL). A command sent while the connection is down
 * fails at once instead of queueing, and one that gets no answer within 2 s
 * fails too: the request that needed it answers 503 `unavailable` (see
 * viaRedis) rather than waiting or passing unchecked. The client keeps
 * reconnecting in the background, every 2 s at most.
 */
export function openRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    // CLIENT LIST names idgraph's connections.
    connectionName: 'idgraph',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: COMMAND_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    // ioredis reports every failed reconnection: log the outage once, and its end.
    if (down) return;
    down = true;
    log.warn({ err: error, redis: redactValue('REDIS_URL', url) }, 'Redis unreachable; requests that need it answer 503 until it is back');
  });
  redis.on('ready', () => {
    if (down) log.info({ redis: redactValue('REDIS_URL', url) }, 'Redis reachable again');
    down = false;
  });
  return redis;
}

/** Redis did not answer at start-up; the message names it (its URL without password). */
export class RedisUnreachable extends Error {}

/** Connects at start-up, or checks that the background reconnection got through. */
export async function connectRedis(redis: Redis, url: string): Promise<void> {
  try {
    // Offline queue off: while reconnecting, PING fails at once.
    if (redis.status === 'wait') await redis.connect();
    else await redis.ping();
  } catch (error) {
    throw new RedisUnreachable(`redis: ${redactValue('REDIS_URL', url)} did not answer: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Closes the connection: politely when it is up, at once when it is not. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}

/** Runs a Redis call; any failure of Redis itself becomes 503 `unavailable`. */
export async function viaRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw error instanceof AppError ? error : storeUnavailable('The shared store', error);
  }
}
