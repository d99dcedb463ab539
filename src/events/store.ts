import { randomUUID } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.js';
import { AppError } from '../errors.js';

/** A Prisma client or the `tx` of an interactive transaction. */
export type Tx = Prisma.TransactionClient;

export interface EventMetadata {
  actorId?: string | null;
  requestId?: string | null;
  ip?: string | null;
  [key: string]: unknown;
}

export interface NewEvent {
  aggregateType: string;
  aggregateId: string;
  /** Dotted, past tense: `tenant.created`, `user.signed_in`. */
  type: string;
  payload?: Record<string, unknown>;
  metadata?: EventMetadata;
  realmId?: string | null;
  tenantId?: string | null;
}

export interface StoredEvent extends Required<Omit<NewEvent, 'metadata'>> {
  id: string;
  position: bigint;
  version: number;
  metadata: EventMetadata;
  occurredAt: Date;
}

// Held until the caller's transaction ends. It serialises appends, which
// (1) gives each aggregate a gapless version sequence and (2) makes positions
// commit in increasing order, so a reader that has seen position N will never
// later see a smaller one commit: the property cursor-based replay relies on.
const EVENT_APPEND_LOCK_KEY = 7_419_052_318_224;

// Secrets and hashes never travel in events (REALM.md, "Events").
const forbiddenPayloadKey = /(password|secret|token|otp|hash|api_?key|nonce)/i;

function assertNoSecrets(value: unknown, path: string[] = []): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    if (forbiddenPayloadKey.test(key)) {
      throw new AppError('server_error', `event payload must not carry secrets (${[...path, key].join('.')})`);
    }
    assertNoSecrets(child, [...path, key]);
  }
}

export interface EventStore {
  /** Appends an event and its outbox rows inside the caller's transaction. */
  appendEvent(tx: Tx, event: NewEvent): Promise<StoredEvent>;
}

export function createEventStore(options: { destinations: readonly string[] }): EventStore {
  const destinations = [...new Set(options.destinations)];
  return {
    async appendEvent(tx, event) {
      assertNoSecrets(event.payload);
      // The lock first, in a statement of its own: the next one then reads the aggregate's versions with a snapshot
      // taken after every earlier append committed.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${EVENT_APPEND_LOCK_KEY}::bigint)`;
      const [created] = await tx.$queryRaw<StoredEvent[]>`
        WITH e AS (
          INSERT INTO events (id, aggregate_type, aggregate_id, version, type, payload, metadata, realm_id, tenant_id)
          SELECT ${randomUUID()}::uuid, ${event.aggregateType}, ${event.aggregateId}, COALESCE(MAX(version), 0) + 1, ${event.type},
                 ${JSON.stringify(event.payload ?? {})}::jsonb, ${JSON.stringify(event.metadata ?? {})}::jsonb,
                 ${event.realmId ?? null}::uuid, ${event.tenantId ?? null}::uuid
          FROM events WHERE aggregate_type = ${event.aggregateType} AND aggregate_id = ${event.aggregateId}
          RETURNING *
        ), o AS (
          INSERT INTO outbox (id, event_id, destination, updated_at)
          SELECT gen_random_uuid(), e.id, d, now() FROM e, unnest(${destinations}::text[]) AS d
        )
        SELECT id::text, position, version, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId", type, payload, metadata,
               realm_id::text AS "realmId", tenant_id::text AS "tenantId", occurred_at AS "occurredAt"
        FROM e`;
      return created!;
    },
  };
}
