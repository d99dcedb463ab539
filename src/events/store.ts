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
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${EVENT_APPEND_LOCK_KEY}::bigint)`;
      const [row] = await tx.$queryRaw<{ next: number }[]>`
        SELECT COALESCE(MAX(version), 0)::int + 1 AS next
        FROM events WHERE aggregate_type = ${event.aggregateType} AND aggregate_id = ${event.aggregateId}`;
      const created = await tx.event.create({
        data: {
          aggregateType: event.aggregateType,
          aggregateId: event.aggregateId,
          version: row?.next ?? 1,
          type: event.type,
          payload: (event.payload ?? {}) as Prisma.InputJsonValue,
          metadata: (event.metadata ?? {}) as Prisma.InputJsonValue,
          realmId: event.realmId ?? null,
          tenantId: event.tenantId ?? null,
          outbox: { create: destinations.map((destination) => ({ destination })) },
        },
      });
      return {
        id: created.id,
        position: created.position,
        version: created.version,
        aggregateType: created.aggregateType,
        aggregateId: created.aggregateId,
        type: created.type,
        payload: created.payload as Record<string, unknown>,
        metadata: created.metadata as EventMetadata,
        realmId: created.realmId,
        tenantId: created.tenantId,
        occurredAt: created.occurredAt,
      };
    },
  };
}
