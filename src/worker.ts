import { openDatabase } from './db/client.js';
import { createOutboxDestinations } from './events/destinations.js';
import { createRelay } from './events/relay.js';
import { loadConfigOrExit, stopOnSignals } from './lifecycle.js';
import { createLogger } from './log.js';

/**
 * An outbox relay on its own (`npm run worker`), beside or instead of the API processes' relays (RELAY_ENABLED).
 * It claims rows as they do, so any number of them share the work. SIGTERM stops claiming and lets the
 * deliveries in progress finish.
 */
async function main() {
  const config = loadConfigOrExit();
  if (config.database.driver === 'pglite') {
    // PGlite's data directory belongs to one process: in embedded mode the API process runs the relay.
    console.error('Invalid configuration:\n  - DATABASE_URL: the worker needs PostgreSQL (postgres://); with PGlite the API process relays the outbox');
    process.exit(78);
  }
  const log = createLogger({ level: config.logLevel });
  const db = await openDatabase(config.database);
  const outbox = createOutboxDestinations(config, db, { log });
  const relay = createRelay({ db, log, destinations: outbox.destinations, leaseMs: config.outbox.leaseMs });
  await relay.start();
  log.info({ destinations: outbox.queued }, 'outbox worker started');
  stopOnSignals(log, async () => {
    await relay.stop();
    await outbox.close();
    await db.close();
  });
}

main().catch((error: unknown) => {
  console.error('outbox worker failed to start:', error);
  process.exit(1);
});
