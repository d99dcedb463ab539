import { uncounted } from '../db/adapters.js';
import type { Database } from '../db/client.js';
import type { Listening } from '../db/listener.js';
import { asSystem } from '../db/tenant-scope.js';
import type { Logger } from '../log.js';
import { claimDueRows, type ClaimedRow, markFailed, markRetry, markSent, OUTBOX_CHANNEL, releaseClaims } from './outbox.js';
import type { StoredEvent } from './store.js';

/** One outbox row handed to its destination. `event.id` lets receivers de-duplicate: delivery is at least once. */
export interface OutboxDelivery {
  outboxId: string;
  destination: string;
  /** 1-based: the first delivery of a row is attempt 1. */
  attempt: number;
  event: StoredEvent;
}

export interface DeliveryResult {
  ok: boolean;
  error?: string;
  responseStatus?: number;
}

/** Where outbox rows go. The relay asks each registered destination whether it handles a row's `destination`. */
export interface OutboxDestination {
  /** e.g. 'projection', or the prefix 'webhook:' (destinations are 'webhook:<endpoint uuid>') */
  handles(destination: string): boolean;
  deliver(delivery: OutboxDelivery): Promise<DeliveryResult>;
  /** Called once when a row becomes `failed` after the last attempt (webhooks disable a failing endpoint). */
  onFailed?(delivery: OutboxDelivery, result: DeliveryResult): Promise<void>;
}

export interface RelayOptions {
  db: Database;
  destinations: readonly OutboxDestination[];
  log: Logger;
  /** Jitter source in [0, 1); tests fix it. */
  random?: () => number;
  /** Rows per claim. */
  batchSize?: number;
  /** How long a claim keeps other relays off its rows; a relay that dies gives them back when it ends. */
  leaseMs?: number;
  /** A delivery not settled by then counts as failed; defaults to a quarter of the lease, at most 30 s. */
  deliveryTimeoutMs?: number;
  maxAttempts?: number;
  /** Retry n waits about baseMs·2^(n-1), capped. */
  backoff?: { baseMs: number; capMs: number };
  /** Polls this often besides LISTEN: retries come due, leases of dead relays end, notifications get lost. */
  pollIntervalMs?: number;
  /** Aggregates delivered at once within a claim. */
  concurrency?: number;
}

/**
 * The delay before retry `attempt` + 1: exponential, capped, with jitter in its upper half so failing rows of
 * many relays do not come due together, yet never sooner than half the nominal delay.
 */
export function retryDelayMs(attempt: number, backoff: { baseMs: number; capMs: number }, random: () => number): number {
  const nominal = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(nominal / 2 + (nominal / 2) * random());
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 2000);
}

/** Settles with the destination's result, or a failure when it throws or takes longer than `ms`. */
async function deliverWithin(destination: OutboxDestination, delivery: OutboxDelivery, ms: number): Promise<DeliveryResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DeliveryResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `delivery did not settle within ${ms} ms` }), ms);
  });
  try {
    return await Promise.race([destination.deliver(delivery), timeout]);
  } catch (error) {
    return { ok: false, error: errorText(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Moves outbox rows to their destinations: woken by NOTIFY (PostgreSQL) or PGlite's listen, and by polling.
 * Each round claims due rows for a lease (claimDueRows), delivers them outside any transaction, each aggregate's
 * rows of a destination one after the other in position order, and marks each sent, due again after a backoff,
 * or failed after the last attempt. Delivery is at least once: a relay that dies after delivering and before
 * marking leaves the row to be delivered again when its lease ends; receivers de-duplicate by event id.
 */
export function createRelay({
  db,
  destinations,
  log,
  random = Math.random,
  batchSize = 50,
  leaseMs = 120_000,
  deliveryTimeoutMs = Math.min(30_000, Math.floor(leaseMs / 4)),
  maxAttempts = 5,
  backoff = { baseMs: 1000, capMs: 300_000 },
  pollIntervalMs = 5000,
  concurrency = 8,
}: RelayOptions) {
  let stopped = true;
  let listening: Listening | null = null;
  let pollTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | null = null;
  let wokenWhileDraining = false;

  const destinationFor = (name: string) => destinations.find((d) => d.handles(name));

  /** Delivers one aggregate's rows of one destination in order; stops at the first failure and gives the rest back. */
  async function deliverInOrder(rows: ClaimedRow[], claimedAt: number): Promise<number> {
    let delivered = 0;
    for (const [index, row] of rows.entries()) {
      // Past this point the lease could end mid-delivery and hand the row to another relay as well.
      if (stopped || Date.now() - claimedAt > leaseMs - deliveryTimeoutMs) {
        await releaseClaims(db.prisma, rows.slice(index));
        break;
      }
      const delivery: OutboxDelivery = { outboxId: row.outboxId, destination: row.destination, attempt: row.attempt, event: row.event };
      const destination = destinationFor(row.destination);
      const result = destination
        ? await deliverWithin(destination, delivery, deliveryTimeoutMs)
        : { ok: false, error: `no destination handles ${row.destination}` };
      if (result.ok) {
        await markSent(db.prisma, row);
        delivered++;
        continue;
      }
      const error = result.error ?? (result.responseStatus ? `status ${result.responseStatus}` : 'delivery failed');
      if (row.attempt >= maxAttempts) {
        if ((await markFailed(db.prisma, row, error)) && destination?.onFailed) {
          await destination.onFailed(delivery, result).catch((hookError: unknown) =>
            log.error({ err: hookError, outboxId: row.outboxId, destination: row.destination }, 'outbox onFailed hook failed'),
          );
        }
        log.warn({ outboxId: row.outboxId, destination: row.destination, eventId: row.event.id, attempt: row.attempt, error }, 'outbox row failed');
        // A failed row no longer holds its aggregate back: the next event goes out in the next round.
      } else {
        await markRetry(db.prisma, row, error, retryDelayMs(row.attempt, backoff, random));
        log.debug({ outboxId: row.outboxId, destination: row.destination, attempt: row.attempt, error }, 'outbox delivery failed; retrying later');
      }
      await releaseClaims(db.prisma, rows.slice(index + 1));
      break;
    }
    return delivered;
  }

  /** Claims one batch and delivers it; resolves with the number of rows claimed (0: nothing was due). */
  async function runOnce(): Promise<number> {
    // Taken before claiming: the lease starts no later than this.
    const claimedAt = Date.now();
    const claimed = await claimDueRows(db.prisma, { limit: batchSize, leaseMs });
    if (claimed.length === 0) return 0;
    const groups = new Map<string, ClaimedRow[]>();
    for (const row of claimed) {
      const key = JSON.stringify([row.destination, row.event.aggregateType, row.event.aggregateId]);
      const group = groups.get(key);
      if (group) group.push(row);
      else groups.set(key, [row]);
    }
    const queue = [...groups.values()];
    const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let group = queue.shift(); group; group = queue.shift()) await deliverInOrder(group, claimedAt);
    });
    await Promise.all(workers);
    return claimed.length;
  }

  /** Rounds until nothing is due; a wake-up during a drain makes it look once more. */
  function drain(): Promise<void> {
    if (draining) {
      wokenWhileDraining = true;
      return draining;
    }
    // A wake-up may come from a caller's context (PGlite hands notifications over in the context of the query that
    // sent them): the relay works for idgraph itself, in the 'system' scope, and outside any statement count.
    draining = asSystem(() =>
      uncounted(async () => {
        do {
          wokenWhileDraining = false;
          while (!stopped && (await runOnce()) > 0);
        } while (!stopped && wokenWhileDraining);
      }),
    )
      .catch((error: unknown) => log.warn({ err: error }, 'outbox relay round failed; retrying at the next poll'))
      .finally(() => (draining = null));
    return draining;
  }

  const wake = () => {
    if (!stopped) void drain();
  };

  return {
    /** Starts listening and polling, and drains what is due already. */
    async start() {
      if (!stopped) return;
      stopped = false;
      listening = await db
        .listen(OUTBOX_CHANNEL, wake, (error) => log.warn({ err: error }, 'outbox relay lost its LISTEN connection; reconnecting (polling meanwhile)'))
        .catch((error: unknown) => {
          log.warn({ err: error }, 'outbox relay cannot LISTEN; polling only');
          return null;
        });
      pollTimer = setInterval(wake, pollIntervalMs);
      pollTimer.unref();
      wake();
    },
    /** Claims and delivers until nothing is due (tests and one-shot runs; works whether started or not). */
    async drainNow(): Promise<void> {
      const wasStopped = stopped;
      stopped = false;
      try {
        await drain();
        await draining;
      } finally {
        stopped = wasStopped;
      }
    },
    runOnce,
    /** Stops claiming; the deliveries in progress finish and unattempted claimed rows are given back. */
    async stop() {
      stopped = true;
      clearInterval(pollTimer);
      pollTimer = undefined;
      await listening?.close();
      listening = null;
      await draining;
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
