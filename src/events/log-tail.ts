import type { Database } from '../db/client.js';
import { asSystem } from '../db/tenant-scope.js';
import type { Listening } from '../db/listener.js';
import type { Logger } from '../log.js';
import type { TailedEventRow } from '../services/audit.js';

/** The channel the events table's trigger notifies (prisma/migrations/…_event_log_notify). */
export const EVENTS_CHANNEL = 'idgraph_events';

const PAGE = 500;

/** Gets every batch of new events, in position order; it must not wait or throw (it only queues). */
export type TailListener = (events: readonly TailedEventRow[]) => void;

export interface EventLogTail {
  /**
   * Registers a listener for every event read from now on. The tail is started on first use, and the listener
   * sees each event past `position` (the last one the tail had read when it was registered) exactly once.
   * `onStop` is called if the tail stops first (the process is shutting down).
   */
  subscribe(listener: TailListener, onStop?: () => void): Promise<{ position: bigint; unsubscribe(): void }>;
  /** Stops reading and tells every subscriber, so open streams end before the server waits for them to finish. */
  stop(): Promise<void>;
}

/**
 * Events after a position, with the realm of their tenant, in position order. The tail works for every
 * subscriber at once, so it reads outside any caller's row-level-security scope; each subscriber keeps only
 * what its scope allows (eventInScope).
 */
export function readTailedEvents(db: Database, after: bigint, limit: number): Promise<TailedEventRow[]> {
  return asSystem(() =>
    db.prisma.$queryRaw<TailedEventRow[]>`
      SELECT e.id::text AS id, e.position, e.aggregate_type AS "aggregateType", e.aggregate_id AS "aggregateId", e.version,
             e.type, e.payload, e.metadata, e.realm_id::text AS "realmId", e.tenant_id::text AS "tenantId",
             e.occurred_at AS "occurredAt", t.realm_id::text AS "tenantRealmId"
      FROM events e LEFT JOIN tenants t ON t.id = e.tenant_id
      WHERE e.position > ${after}
      ORDER BY e.position
      LIMIT ${limit}`,
  );
}

/**
 * One reader per process follows the event log by position and hands each batch to every subscriber in
 * memory: one query for all subscribers, whatever their number. It reads when the database notifies an
 * append (LISTEN on its own connection on PostgreSQL, PGlite's listen in embedded mode), so a write on any
 * replica reaches the subscribers of every replica; and every `pollIntervalMs` in case a notification was
 * lost. Appends commit in position order (the append lock), so `position > last` never skips one.
 */
export function createEventLogTail({ db, pollIntervalMs, log }: { db: Database; pollIntervalMs: number; log: Logger }): EventLogTail {
  const listeners = new Map<TailListener, (() => void) | undefined>();
  let position = 0n;
  let started: Promise<void> | null = null;
  let listening: Listening | null = null;
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | null = null;
  let readAgain = false;
  let stopped = false;

  const readAfter = (after: bigint) => readTailedEvents(db, after, PAGE);

  async function drain() {
    do {
      readAgain = false;
      for (;;) {
        const events = await readAfter(position);
        if (events.length === 0) break;
        position = events.at(-1)!.position;
        for (const listener of listeners.keys()) {
          try {
            listener(events);
          } catch (error) {
            log.error({ err: error }, 'an event log subscriber failed on a batch');
          }
        }
        if (events.length < PAGE) break;
      }
    } while (readAgain && !stopped);
  }

  function wake() {
    if (stopped) return;
    if (reading) {
      readAgain = true;
      return;
    }
    reading = drain()
      .catch((error: unknown) => log.warn({ err: error }, 'event log not read; retrying with the next notification or poll'))
      .finally(() => {
        reading = null;
      });
  }

  async function start() {
    const [newest] = await asSystem(() => db.prisma.$queryRaw<Array<{ position: bigint | null }>>`SELECT max(position) AS position FROM events`);
    position = newest?.position ?? 0n;
    listening = await db.listen(
      EVENTS_CHANNEL,
      (payload) => {
        // null: the connection was reopened and notifications may have been lost.
        if (payload === null || !/^\d+$/.test(payload) || BigInt(payload) > position) wake();
      },
      (error) => log.warn({ err: error }, 'event log notifications interrupted; reconnecting (polling meanwhile)'),
    );
    timer = setInterval(wake, pollIntervalMs);
    timer.unref();
  }

  return {
    async subscribe(listener, onStop) {
      if (stopped) throw new Error('the event log tail is stopped');
      started ??= start().catch((error: unknown) => {
        started = null;
        throw error;
      });
      await started;
      // Registered in the same tick as `position` is read: the next batch starts right after it.
      listeners.set(listener, onStop);
      return { position, unsubscribe: () => listeners.delete(listener) };
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      const stopping = [...listeners.values()];
      listeners.clear();
      for (const onStop of stopping) onStop?.();
      await started?.catch(() => {});
      await listening?.close();
      await reading;
    },
  };
}
