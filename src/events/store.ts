import { randomUUID } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.js';
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
  /** Appends an event and its outbox rows inside the caller's transaction, in one statement. */
  appendEvent(tx: Tx, event: NewEvent): Promise<StoredEvent>;
  /**
   * The same append as a set-returning SQL call (its one row is the stored event), for a statement that
   * appends along with a write of its own; `type` may then be an SQL expression over that statement's rows.
   */
  appendCall(event: Omit<NewEvent, 'type'> & { type: string | Prisma.Sql }): Prisma.Sql;
}

/** A stored event row (`e`) as StoredEvent. */
const storedEventColumns = Prisma.sql`
  e.id::text, e.position, e.version, e.aggregate_type AS "aggregateType", e.aggregate_id AS "aggregateId", e.type, e.payload,
  e.metadata, e.realm_id::text AS "realmId", e.tenant_id::text AS "tenantId", e.occurred_at AS "occurredAt"`;

export function createEventStore(options: { destinations: readonly string[] }): EventStore {
  const destinations = [...new Set(options.destinations)];
  const store: EventStore = {
    async appendEvent(tx, event) {
      const [created] = await tx.$queryRaw<StoredEvent[]>`SELECT ${storedEventColumns} FROM ${store.appendCall(event)} e`;
      return created!;
    },
    appendCall(event) {
      assertNoSecrets(event.payload);
      // idgraph_append_event (prisma/migrations/…_event_append_function) takes the append lock, then inserts the
      // event with the aggregate's next version and its outbox rows.
      return Prisma.sql`idgraph_append_event(
        ${randomUUID()}::uuid, ${event.aggregateType}, ${event.aggregateId}, ${event.type},
        ${JSON.stringify(event.payload ?? {})}::jsonb, ${JSON.stringify(event.metadata ?? {})}::jsonb,
        ${event.realmId ?? null}::uuid, ${event.tenantId ?? null}::uuid, ${destinations}::text[])`;
    },
  };
  return store;
}
