export interface HealthDeps {
  ping(timeoutMs?: number): Promise<void>;
  clock: () => number;
  startedAt: number;
  version: string;
}

export type ComponentStatus = 'UP' | 'DOWN';

export function createHealthService({ ping, clock, startedAt, version }: HealthDeps) {
  return {
    async check(): Promise<{ database: ComponentStatus; databaseError: string | null; version: string; uptimeSeconds: number }> {
      let databaseError: string | null = null;
      try {
        await ping();
      } catch (error) {
        databaseError = error instanceof Error ? error.message : String(error);
      }
      return {
        database: databaseError ? 'DOWN' : 'UP',
        databaseError,
        version,
        uptimeSeconds: Math.floor((clock() - startedAt) / 1000),
      };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
