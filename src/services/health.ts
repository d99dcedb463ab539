export interface HealthDeps {
  ping(timeoutMs?: number): Promise<void>;
  /** Redis's answer to PING, when idgraph uses Redis (REDIS_URL). */
  pingRedis: (() => Promise<unknown>) | null;
  clock: () => number;
  startedAt: number;
  version: string;
}

export type ComponentStatus = 'UP' | 'DOWN';

const failure = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function createHealthService({ ping, pingRedis, clock, startedAt, version }: HealthDeps) {
  return {
    async check(): Promise<{
      database: ComponentStatus;
      databaseError: string | null;
      redis: ComponentStatus | null;
      redisError: string | null;
      version: string;
      uptimeSeconds: number;
    }> {
      const [databaseError, redisError] = await Promise.all([
        ping().then(() => null, failure),
        pingRedis ? pingRedis().then(() => null, failure) : null,
      ]);
      return {
        database: databaseError ? 'DOWN' : 'UP',
        databaseError,
        redis: pingRedis ? (redisError ? 'DOWN' : 'UP') : null,
        redisError,
        version,
        uptimeSeconds: Math.floor((clock() - startedAt) / 1000),
      };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
