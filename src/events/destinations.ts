import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { ownDatabaseProjection, PROJECTION_DESTINATION, projectionDestination, separateDatabaseProjection } from './projection.js';
import type { OutboxDestination } from './relay.js';
import type { Logger } from '../log.js';
import { createSecretBox } from '../identity/embedded/crypto.js';
import { createEventStore } from './store.js';
import { type ResolveHost, systemResolveHost } from './webhook-network.js';
import { createWebhookDestination } from './webhooks.js';

/** The destinations every event gets an outbox row for: those configured, and none that nobody configured. */
export function queuedDestinations(config: Config): string[] {
  return config.outbox.projection ? [PROJECTION_DESTINATION] : [];
}

/**
 * The outbox destinations the configuration turns on, for the API process and the worker alike (a relay of
 * either may claim any row). `queued` lists those every event gets an outbox row for; a destination nobody
 * configured gets none.
 */
export function createOutboxDestinations(
  config: Config,
  db: Database,
  { log, clock = Date.now, resolveWebhookHost = systemResolveHost }: { log: Logger; clock?: () => number; resolveWebhookHost?: ResolveHost },
) {
  const projection = config.outbox.projection;
  const target = !projection
    ? null
    : projection.database === 'own'
      ? ownDatabaseProjection(db.prisma)
      : separateDatabaseProjection({
          url: projection.url,
          connectTimeoutMs: config.database.driver === 'pglite' ? 5000 : config.database.connectTimeoutMs,
        });
  // Webhook endpoints' rows ('webhook:<id>') are queued by the append itself, for the endpoints that take the event.
  const webhooks = createWebhookDestination({
    db: db.prisma,
    events: createEventStore({ destinations: queuedDestinations(config) }),
    config: config.webhooks,
    secrets: createSecretBox(config.auth.keyEncryptionKey),
    resolveHost: resolveWebhookHost,
    clock,
    log,
  });
  const destinations: OutboxDestination[] = [...(target ? [projectionDestination(target)] : []), webhooks];
  return {
    queued: queuedDestinations(config),
    destinations,
    close: async () => {
      await target?.close();
      await webhooks.close();
    },
  };
}
