import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { ownDatabaseProjection, PROJECTION_DESTINATION, projectionDestination, separateDatabaseProjection } from './projection.js';
import type { OutboxDestination } from './relay.js';

/** The destinations every event gets an outbox row for: those configured, and none that nobody configured. */
export function queuedDestinations(config: Config): string[] {
  return config.outbox.projection ? [PROJECTION_DESTINATION] : [];
}

/**
 * The outbox destinations the configuration turns on, for the API process and the worker alike (a relay of
 * either may claim any row). `queued` lists those every event gets an outbox row for; a destination nobody
 * configured gets none.
 */
export function createOutboxDestinations(config: Config, db: Database) {
  const projection = config.outbox.projection;
  const target = !projection
    ? null
    : projection.database === 'own'
      ? ownDatabaseProjection(db.prisma)
      : separateDatabaseProjection({
          url: projection.url,
          connectTimeoutMs: config.database.driver === 'pglite' ? 5000 : config.database.connectTimeoutMs,
        });
  const destinations: OutboxDestination[] = target ? [projectionDestination(target)] : [];
  return {
    queued: queuedDestinations(config),
    destinations,
    close: async () => {
      await target?.close();
    },
  };
}
