import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { loadConfig } from '../../src/config.js';
import { runInTenantScope } from '../../src/db/tenant-scope.js';
import { claimDueRows, markSent } from '../../src/events/outbox.js';
import { createRelay, type DeliveryResult, type OutboxDelivery, type OutboxDestination, retryDelayMs } from '../../src/events/relay.js';
import { createEventStore, type NewEvent } from '../../src/events/store.js';
import { createLogger } from '../../src/log.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseKind } from '../helpers/database.js';
import { signUpUser } from '../helpers/realm.js';

/** A destination that records each delivery and answers what `answer` says. */
function recordingDestination(name: string, answer: (delivery: OutboxDelivery) => DeliveryResult | Promise<DeliveryResult> = () => ({ ok: true })) {
  const deliveries: OutboxDelivery[] = [];
  const failed: Array<[OutboxDelivery, DeliveryResult]> = [];
  const destination: OutboxDestination = {
    handles: (d) => d === name,
    async deliver(delivery) {
      deliveries.push(delivery);
      return answer(delivery);
    },
    async onFailed(delivery, result) {
      failed.push([delivery, result]);
    },
  };
  return { destination, deliveries, failed };
}

async function appendAll(t: TestApp, destinations: string[], events: NewEvent[]) {
  const store = createEventStore({ destinations });
  return t.app.db.prisma.$transaction(
    async (tx) => {
      const stored = [];
      for (const event of events) stored.push(await store.appendEvent(tx, event));
      return stored;
    },
    { timeout: 120_000 },
  );
}

const outboxOf = (t: TestApp, eventId: string) => t.app.db.prisma.outbox.findFirstOrThrow({ where: { eventId } });
/** Makes every pending row of `destination` due now, as if its backoff had passed. */
const makeDue = (t: TestApp, destination: string) =>
  t.app.db.prisma.$executeRaw`UPDATE outbox SET next_attempt_at = now() WHERE destination = ${destination} AND status = 'pending'`;

describe('outbox relay', () => {
  describe('with nothing configured', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(() => t.close());

    it('writes events and no outbox row: subscriptions read the event log, and nobody configured another destination', async () => {
      const user = await signUpUser(t);
      expect(await t.app.db.prisma.event.count({ where: { aggregateId: user.userId } })).toBeGreaterThan(0);
      expect(await t.app.db.prisma.outbox.count()).toBe(0);
    });
  });

  describe('delivery, backoff and failure', () => {
    let t: TestApp;
    let attempts = 0;
    const failing = recordingDestination('failing', () => ({ ok: false, error: `refused ${++attempts}`, responseStatus: 503 }));
    let failFirstOf: string | null = null;
    const ordered = recordingDestination('ordered', (delivery) => {
      if (delivery.event.id === failFirstOf && delivery.attempt === 1) return { ok: false, error: 'not yet' };
      return { ok: true };
    });
    const throwing = recordingDestination('throwing', () => {
      throw new Error('receiver exploded');
    });
    beforeAll(async () => {
      t = await startTestApp({
        outboxDestinations: [failing.destination, ordered.destination, throwing.destination],
        // Jitter fixed at the middle: each retry waits exactly 3/4 of its nominal delay.
        relay: { random: () => 0.5, backoff: { baseMs: 1000, capMs: 300_000 } },
      });
    });
    afterAll(() => t.close());

    it('retries with exponential backoff, then marks the row failed after 5 attempts, keeping the last error', async () => {
      const [event] = await appendAll(t, ['failing'], [{ aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.happened' }]);
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 4; attempt++) {
        await t.app.relay!.drainNow();
        const row = await outboxOf(t, event!.id);
        expect([row.status, row.attempts]).toEqual(['pending', attempt]);
        // Both set by the statement that scheduled the retry.
        delays.push(row.nextAttemptAt.getTime() - row.updatedAt.getTime());
        await makeDue(t, 'failing');
      }
      expect(delays).toEqual([750, 1500, 3000, 6000]);
      await t.app.relay!.drainNow();
      const row = await outboxOf(t, event!.id);
      expect(row).toMatchObject({ status: 'failed', attempts: 5, sentAt: null });
      expect(row.lastError).toBe(`refused ${attempts}`);
      const mine = failing.deliveries.filter((d) => d.event.id === event!.id);
      expect(mine.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect(failing.failed.filter(([d]) => d.event.id === event!.id)).toHaveLength(1);
      // A failed row is left alone.
      await makeDue(t, 'failing');
      await t.app.relay!.drainNow();
      expect(failing.deliveries.filter((d) => d.event.id === event!.id)).toHaveLength(5);
    });

    it('caps the delay at 5 minutes whatever the attempt, with jitter only in the upper half', () => {
      const backoff = { baseMs: 1000, capMs: 300_000 };
      expect(retryDelayMs(1, backoff, () => 0)).toBe(500);
      expect(retryDelayMs(1, backoff, () => 0.999_999)).toBe(1000);
      for (const attempt of [10, 20, 100]) {
        expect(retryDelayMs(attempt, backoff, () => 0.999_999)).toBe(300_000);
        expect(retryDelayMs(attempt, backoff, () => 0)).toBe(150_000);
      }
    });

    it('counts a destination that throws as a failed attempt', async () => {
      const [event] = await appendAll(t, ['throwing'], [{ aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.happened' }]);
      await t.app.relay!.drainNow();
      expect(await outboxOf(t, event!.id)).toMatchObject({ status: 'pending', attempts: 1, lastError: 'receiver exploded' });
    });

    it('delivers an aggregate’s events in order, holding later ones back while an earlier one waits for its retry', async () => {
      const aggregateId = crypto.randomUUID();
      const other = crypto.randomUUID();
      const events = await appendAll(t, ['ordered'], [
        { aggregateType: 'test', aggregateId, type: 'test.first' },
        { aggregateType: 'test', aggregateId: other, type: 'test.other' },
        { aggregateType: 'test', aggregateId, type: 'test.second' },
        { aggregateType: 'test', aggregateId, type: 'test.third' },
      ]);
      failFirstOf = events[0]!.id;
      await t.app.relay!.drainNow();
      // The other aggregate went through; this one's first event waits, and nothing after it was tried.
      const seen = () => ordered.deliveries.filter((d) => d.event.aggregateId === aggregateId).map((d) => [d.event.type, d.attempt]);
      expect(seen()).toEqual([['test.first', 1]]);
      expect(ordered.deliveries.some((d) => d.event.aggregateId === other)).toBe(true);
      expect((await outboxOf(t, events[2]!.id)).attempts).toBe(0);
      await makeDue(t, 'ordered');
      await t.app.relay!.drainNow();
      expect(seen()).toEqual([['test.first', 1], ['test.first', 2], ['test.second', 1], ['test.third', 1]]);
      for (const event of events) expect((await outboxOf(t, event.id)).status).toBe('sent');
    });

    it('works in the system scope and outside statement counts, whoever wakes it', async () => {
      await t.app.relay!.stop();
      // A tenant's event: a caller's scope would not see it (row-level security on events).
      const [event] = await appendAll(t, ['ordered'], [{ aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.scoped', tenantId: crypto.randomUUID() }]);
      const statements = await t.countStatements(() => runInTenantScope('none', () => t.app.relay!.drainNow()));
      expect((await outboxOf(t, event!.id)).status).toBe('sent');
      expect(ordered.deliveries.some((d) => d.event.id === event!.id)).toBe(true);
      expect(statements).toBe(0);
    });

    it('gives a crashed relay’s claim back when its lease ends, and ignores what that relay marks afterwards', async () => {
      const [event] = await appendAll(t, ['unhandled'], [{ aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.happened' }]);
      // A relay claims the row (a long lease) and dies: no other claim gets it meanwhile.
      await t.app.relay!.stop();
      const [crashed] = await claimDueRows(t.app.db.prisma, { limit: 50, leaseMs: 600_000 });
      expect(crashed).toMatchObject({ outboxId: (await outboxOf(t, event!.id)).id, attempt: 1 });
      expect(await claimDueRows(t.app.db.prisma, { limit: 50, leaseMs: 600_000 })).toEqual([]);
      // The same with a lease that ends: the row comes back to the next claim, as attempt 2.
      await t.app.db.prisma.$executeRaw`UPDATE outbox SET attempts = 0, next_attempt_at = now() WHERE event_id = ${event!.id}::uuid`;
      const [shortLived] = await claimDueRows(t.app.db.prisma, { limit: 50, leaseMs: 1 });
      expect(shortLived!.attempt).toBe(1);
      const reclaimed = await vi.waitFor(async () => {
        const [row] = await claimDueRows(t.app.db.prisma, { limit: 50, leaseMs: 600_000 });
        if (!row) throw new Error('not back yet');
        return row;
      });
      expect(reclaimed).toMatchObject({ outboxId: shortLived!.outboxId, attempt: 2 });
      // The first relay wakes up late and marks its claim: nothing changes.
      expect(await markSent(t.app.db.prisma, shortLived!)).toBe(false);
      expect(await outboxOf(t, event!.id)).toMatchObject({ status: 'pending', attempts: 2 });
      expect(await markSent(t.app.db.prisma, reclaimed)).toBe(true);
      expect(await outboxOf(t, event!.id)).toMatchObject({ status: 'sent' });
    });
  });

  describe.skipIf(testDatabaseKind !== 'postgres')('two relays on one PostgreSQL database', () => {
    let t: TestApp;
    const dbs: Database[] = [];
    beforeAll(async () => {
      t = await startTestApp({ env: { RELAY_ENABLED: 'false' } });
      const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: t.database.url, DATABASE_POOL_SIZE: '4' });
      dbs.push(await openDatabase(config.database), await openDatabase(config.database));
    });
    afterAll(async () => {
      for (const db of dbs) await db.close();
      await t.close();
    });

    it('reconnects its LISTEN connection when it drops, and is woken again without polling', async () => {
      const seen: OutboxDelivery[] = [];
      const relay = createRelay({
        db: dbs[0]!,
        log: createLogger({ level: 'silent' }),
        destinations: [{ handles: (d) => d === 'listen', deliver: async (delivery) => (seen.push(delivery), { ok: true }) }],
        pollIntervalMs: 3_600_000,
      });
      await relay.start();
      try {
        const listeners = () =>
          t.app.db.prisma.$queryRaw<Array<{ pid: number }>>`
            SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN "idgraph_outbox"'`;
        await vi.waitFor(async () => expect(await listeners()).toHaveLength(1));
        const [first] = await appendAll(t, ['listen'], [{ aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.happened' }]);
        await vi.waitFor(() => expect(seen.map((d) => d.event.id)).toEqual([first!.id]));
        const [{ pid }] = (await listeners()) as [{ pid: number }];
        await t.app.db.prisma.$queryRaw`SELECT pg_terminate_backend(${pid}::int)::text`;
        await vi.waitFor(
          async () => {
            const now = await listeners();
            expect(now).toHaveLength(1);
            expect(now[0]!.pid).not.toBe(pid);
          },
          { timeout: 30_000 },
        );
        const [second] = await appendAll(t, ['listen'], [{ aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.happened' }]);
        await vi.waitFor(() => expect(seen.map((d) => d.event.id)).toEqual([first!.id, second!.id]), { timeout: 30_000 });
      } finally {
        await relay.stop();
      }
    });

    it('drain 2,000 rows: none delivered twice at the same time, none lost, each aggregate in order', async () => {
      const inFlight = new Set<string>();
      const overlaps: string[] = [];
      const received: OutboxDelivery[] = [];
      const byRelay = [0, 0];
      const receiver = (relay: number): OutboxDestination => ({
        handles: (d) => d === 'shared',
        async deliver(delivery) {
          if (inFlight.has(delivery.outboxId)) overlaps.push(delivery.outboxId);
          inFlight.add(delivery.outboxId);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          inFlight.delete(delivery.outboxId);
          received.push(delivery);
          byRelay[relay]!++;
          return { ok: true };
        },
      });
      const aggregates = Array.from({ length: 40 }, () => crypto.randomUUID());
      const events = await appendAll(
        t,
        ['shared'],
        Array.from({ length: 2000 }, (_, i) => ({ aggregateType: 'test', aggregateId: aggregates[i % aggregates.length]!, type: 'test.happened', payload: { i } })),
      );
      const log = createLogger({ level: 'silent' });
      const relays = dbs.map((db, i) => createRelay({ db, log, destinations: [receiver(i)], pollIntervalMs: 200 }));
      await Promise.all(relays.map((relay) => relay.start()));
      await vi.waitFor(async () => expect(await t.app.db.prisma.outbox.count({ where: { destination: 'shared', status: { not: 'sent' } } })).toBe(0), {
        timeout: 120_000,
        interval: 200,
      });
      await Promise.all(relays.map((relay) => relay.stop()));

      expect(overlaps).toEqual([]);
      expect(received).toHaveLength(2000);
      expect(new Set(received.map((d) => d.event.id)).size).toBe(2000);
      expect(new Set(received.map((d) => d.event.id))).toEqual(new Set(events.map((e) => e.id)));
      // Both relays took part.
      expect(byRelay.every((n) => n > 0)).toBe(true);
      for (const aggregateId of aggregates) {
        const versions = received.filter((d) => d.event.aggregateId === aggregateId).map((d) => d.event.version);
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
      }
    }, 240_000);
  });
});
