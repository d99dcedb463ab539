import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { StoredEvent } from './store.js';

/** The channel the outbox trigger notifies when rows are queued (migration …_outbox_relay). */
export const OUTBOX_CHANNEL = 'idgraph_outbox';

// Claims are serialised across relays by this transaction-level lock (the event append lock is …224).
const CLAIM_LOCK = 7419052318225n;

export interface ClaimedRow {
  outboxId: string;
  destination: string;
  /** The row's attempts after this claim: the claim's fencing token and the delivery's 1-based attempt. */
  attempt: number;
  event: StoredEvent;
}

/**
 * Claims up to `limit` due rows for `leaseMs`: they stay `pending` with next_attempt_at pushed past the lease,
 * so no other relay claims them while this one delivers, and a relay that dies returns them when the lease ends.
 *
 * A row is due unless an earlier event of its aggregate is still pending for the same destination and not due
 * (leased by a relay or waiting for a retry): receivers then see each aggregate's events in order. Due earlier
 * rows sort first and come in the same claim. The claims of all relays take turns (CLAIM_LOCK), so two claims
 * never both read an earlier row as due and hand one aggregate's events to two relays at once.
 */
export async function claimDueRows(db: PrismaClient, { limit, leaseMs }: { limit: number; leaseMs: number }): Promise<ClaimedRow[]> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${CLAIM_LOCK})`;
    const rows = await tx.$queryRaw<Array<Omit<StoredEvent, 'position'> & { position: bigint; outboxId: string; destination: string; attempt: number }>>`
      WITH due AS (
        SELECT o.id FROM outbox o JOIN events e ON e.id = o.event_id
        WHERE o.status = 'pending' AND o.next_attempt_at <= now()
          AND NOT EXISTS (
            SELECT 1 FROM events earlier JOIN outbox w ON w.event_id = earlier.id
            WHERE earlier.aggregate_type = e.aggregate_type AND earlier.aggregate_id = e.aggregate_id
              AND earlier.version < e.version AND w.destination = o.destination
              AND w.status = 'pending' AND w.next_attempt_at > now())
        ORDER BY e.position
        LIMIT ${limit}
        FOR UPDATE OF o SKIP LOCKED
      )
      UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
      FROM due, events e
      WHERE o.id = due.id AND e.id = o.event_id
      RETURNING o.id::text AS "outboxId", o.destination, o.attempts AS attempt,
        e.id::text, e.position, e.version, e.aggregate_type AS "aggregateType", e.aggregate_id AS "aggregateId", e.type, e.payload,
        e.metadata, e.realm_id::text AS "realmId", e.tenant_id::text AS "tenantId", e.occurred_at AS "occurredAt"`;
    return rows
      .sort((a, b) => (a.position < b.position ? -1 : 1))
      .map(({ outboxId, destination, attempt, ...event }) => ({ outboxId, destination, attempt, event }));
  });
}

// Each update names the claim it closes (attempts = the claim's attempt, still pending): a relay whose lease ran
// out and whose row another relay claimed since changes nothing.

export async function markSent(db: PrismaClient, row: ClaimedRow): Promise<boolean> {
  const count = await db.$executeRaw`
    UPDATE outbox SET status = 'sent', sent_at = now(), last_error = NULL, updated_at = now()
    WHERE id = ${row.outboxId}::uuid AND attempts = ${row.attempt} AND status = 'pending'`;
  return count === 1;
}

export async function markRetry(db: PrismaClient, row: ClaimedRow, error: string, delayMs: number): Promise<boolean> {
  const count = await db.$executeRaw`
    UPDATE outbox SET next_attempt_at = now() + ${delayMs} * interval '1 millisecond', last_error = ${error}, updated_at = now()
    WHERE id = ${row.outboxId}::uuid AND attempts = ${row.attempt} AND status = 'pending'`;
  return count === 1;
}

export async function markFailed(db: PrismaClient, row: ClaimedRow, error: string): Promise<boolean> {
  const count = await db.$executeRaw`
    UPDATE outbox SET status = 'failed', last_error = ${error}, updated_at = now()
    WHERE id = ${row.outboxId}::uuid AND attempts = ${row.attempt} AND status = 'pending'`;
  return count === 1;
}

/** Gives back claimed rows that were not attempted (an earlier event of their aggregate failed, or the relay stops). */
export async function releaseClaims(db: PrismaClient, rows: readonly ClaimedRow[]): Promise<void> {
  if (rows.length === 0) return;
  const ids = rows.map((r) => r.outboxId);
  const attempts = rows.map((r) => r.attempt);
  await db.$executeRaw`
    UPDATE outbox o SET attempts = o.attempts - 1, next_attempt_at = now(), updated_at = now()
    FROM unnest(${ids}::uuid[], ${attempts}::int[]) AS c(id, attempt)
    WHERE o.id = c.id AND o.attempts = c.attempt AND o.status = 'pending'`;
}

/** Per destination: pending and failed rows, and how long the oldest pending row has waited (null: none pending). */
export interface OutboxDestinationHealth {
  destination: string;
  pending: number;
  failed: number;
  oldestPendingAgeSeconds: number | null;
}

export async function outboxHealth(db: PrismaClient, now: Date): Promise<OutboxDestinationHealth[]> {
  const rows = await db.$queryRaw<Array<{ destination: string; pending: bigint; failed: bigint; oldest: Date | null }>>`
    SELECT destination,
      count(*) FILTER (WHERE status = 'pending') AS pending,
      count(*) FILTER (WHERE status = 'failed') AS failed,
      min(created_at) FILTER (WHERE status = 'pending') AS oldest
    FROM outbox WHERE status IN ('pending', 'failed')
    GROUP BY destination ORDER BY destination`;
  return rows.map((r) => ({
    destination: r.destination,
    pending: Number(r.pending),
    failed: Number(r.failed),
    oldestPendingAgeSeconds: r.oldest ? Math.max(0, Math.floor((now.getTime() - r.oldest.getTime()) / 1000)) : null,
  }));
}

/** failed → pending with attempts 0, due now; wakes the relays (at commit). Resolves with how many rows. */
export async function replayFailed(db: PrismaClient | Prisma.TransactionClient, destination: string): Promise<number> {
  const count = await db.$executeRaw`
    UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
    WHERE destination = ${destination} AND status = 'failed'`;
  if (count > 0) await db.$executeRaw`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`;
  return count;
}
