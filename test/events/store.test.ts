import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore } from '../../src/events/store.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  // No relay: the rows this file queues for made-up destinations stay as appended.
  t = await startTestApp({ env: { RELAY_ENABLED: 'false' } });
});
afterAll(() => t.close());

const store = createEventStore({ destinations: ['subscriptions', 'webhooks'] });

describe('event store', () => {
  it('gives 20 concurrent appends to one aggregate versions 1..20, no duplicate and no gap', async () => {
    const aggregateId = crypto.randomUUID();
    const appended = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.app.db.prisma.$transaction((tx) =>
          store.appendEvent(tx, { aggregateType: 'tenant', aggregateId, type: 'tenant.updated', payload: { i } }),
        ),
      ),
    );
    expect(appended.map((e) => e.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const rows = await t.app.db.prisma.event.findMany({ where: { aggregateId }, orderBy: { position: 'asc' } });
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Positions commit in order: version order and position order agree.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.position > rows[i - 1]!.position).toBe(true);
  });

  it('writes one pending outbox row per destination in the same transaction', async () => {
    const aggregateId = crypto.randomUUID();
    const event = await t.app.db.prisma.$transaction((tx) =>
      store.appendEvent(tx, {
        aggregateType: 'user',
        aggregateId,
        type: 'user.signed_in',
        metadata: { actorId: aggregateId, requestId: 'r-1', ip: '127.0.0.1' },
      }),
    );
    const outbox = await t.app.db.prisma.outbox.findMany({ where: { eventId: event.id }, orderBy: { destination: 'asc' } });
    expect(outbox.map((o) => [o.destination, o.status, o.attempts])).toEqual([
      ['subscriptions', 'pending', 0],
      ['webhooks', 'pending', 0],
    ]);
    expect(event.metadata).toEqual({ actorId: aggregateId, requestId: 'r-1', ip: '127.0.0.1' });
  });

  it('leaves neither event nor outbox row when the caller’s transaction rolls back', async () => {
    const aggregateId = crypto.randomUUID();
    await expect(
      t.app.db.prisma.$transaction(async (tx) => {
        await store.appendEvent(tx, { aggregateType: 'tenant', aggregateId, type: 'tenant.created' });
        throw new Error('domain write failed');
      }),
    ).rejects.toThrow('domain write failed');
    expect(await t.app.db.prisma.event.count({ where: { aggregateId } })).toBe(0);
    expect(await t.app.db.prisma.outbox.count({ where: { event: { aggregateId } } })).toBe(0);
  });

  it('refuses payloads that carry secrets, before writing anything', async () => {
    const aggregateId = crypto.randomUUID();
    await expect(
      t.app.db.prisma.$transaction((tx) =>
        store.appendEvent(tx, { aggregateType: 'api_key', aggregateId, type: 'api_key.created', payload: { key: { secretHash: 'x' } } }),
      ),
    ).rejects.toThrow(/key\.secretHash/);
    expect(await t.app.db.prisma.event.count({ where: { aggregateId } })).toBe(0);
  });

  it('costs one SQL statement (lock and append together), whatever the aggregate’s history', async () => {
    const aggregateId = crypto.randomUUID();
    const append = () =>
      t.app.db.prisma.$transaction((tx) => store.appendEvent(tx, { aggregateType: 'tenant', aggregateId, type: 'tenant.updated' }));
    // What the transaction itself sends (BEGIN on some drivers) is not the append's.
    const transaction = await t.countStatements(() => t.app.db.prisma.$transaction(async () => {}));
    const first = await t.countStatements(append);
    for (let i = 0; i < 5; i++) await append();
    const later = await t.countStatements(append);
    expect(later).toBe(first);
    expect(first - transaction).toBe(1);
  });
});
