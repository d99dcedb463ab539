import pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { DeliveryResult, OutboxDelivery, OutboxDestination } from './relay.js';
import type { StoredEvent } from './store.js';

export const PROJECTION_DESTINATION = 'projection';

/** Where auth_events rows are written. */
export interface ProjectionTarget {
  upsert(event: StoredEvent): Promise<void>;
  close(): Promise<void>;
}

// Events never change once appended: a redelivered event (delivery is at least once) finds its row and leaves it.
const upsertSql = `
  INSERT INTO auth_events (event_id, type, aggregate_type, aggregate_id, version, payload, occurred_at)
  VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb, $7)
  ON CONFLICT (event_id) DO NOTHING`;

const upsertArgs = (event: StoredEvent) => [
  event.id,
  event.type,
  event.aggregateType,
  event.aggregateId,
  event.version,
  JSON.stringify(event.payload),
  event.occurredAt,
];

/** auth_events in idgraph's own database (a migration creates it). */
export function ownDatabaseProjection(db: PrismaClient): ProjectionTarget {
  return {
    upsert: async (event) => {
      await db.$executeRawUnsafe(upsertSql, ...upsertArgs(event));
    },
    close: async () => {},
  };
}

// The same table as migration …_outbox_relay creates in idgraph's own database.
const createTableSql = `
  CREATE TABLE IF NOT EXISTS auth_events (
    event_id UUID NOT NULL PRIMARY KEY,
    type TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    payload JSONB NOT NULL,
    occurred_at TIMESTAMPTZ(3) NOT NULL
  );
  CREATE INDEX IF NOT EXISTS auth_events_aggregate_type_aggregate_id_version_idx ON auth_events (aggregate_type, aggregate_id, version);`;

/**
 * auth_events in another PostgreSQL database (PROJECTION_DATABASE_URL), created there if missing. Until that
 * database answers, deliveries fail and the relay retries them.
 */
export function separateDatabaseProjection({ url, connectTimeoutMs }: { url: string; connectTimeoutMs: number }): ProjectionTarget {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: connectTimeoutMs });
  pool.on('error', () => {
    // An idle connection died; the pool opens another when asked, and failed deliveries are retried.
  });
  let tableReady: Promise<unknown> | null = null;
  return {
    async upsert(event) {
      tableReady ??= pool.query(createTableSql).catch((error: unknown) => {
        tableReady = null;
        throw error;
      });
      await tableReady;
      await pool.query(upsertSql, upsertArgs(event));
    },
    close: () => pool.end(),
  };
}

/** The relay's 'projection' destination. */
export function projectionDestination(target: ProjectionTarget): OutboxDestination {
  return {
    handles: (destination) => destination === PROJECTION_DESTINATION,
    async deliver({ event }: OutboxDelivery): Promise<DeliveryResult> {
      await target.upsert(event);
      return { ok: true };
    },
  };
}
