import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createEventStore } from '../../src/events/store.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { problemsOf } from '../helpers/config.js';
import { signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// The outbox for operators: figures per destination, replaying failed rows, retention of sent rows.

let t: TestApp;
let admin: SignedIn;
let user: SignedIn;
beforeAll(async () => {
  // No relay and no cleanup timer: the rows seeded here stay as seeded.
  t = await startTestApp({ env: { RELAY_ENABLED: 'false', CLEANUP_INTERVAL_SECONDS: '0' } });
  admin = await signInRealmAdmin(t);
  user = await signUpUser(t);
});
afterAll(() => t.close());

async function gql(query: string, variables: Record<string, unknown>, headers?: Record<string, string>) {
  const res = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms);

/** One outbox row for `destination` in the given state; resolves with its event id. */
async function seedRow(destination: string, state: { status: 'pending' | 'sent' | 'failed'; createdAt?: Date; sentAt?: Date | null; attempts?: number }) {
  const event = await t.app.db.prisma.$transaction((tx) =>
    createEventStore({ destinations: [destination] }).appendEvent(tx, { aggregateType: 'test', aggregateId: crypto.randomUUID(), type: 'test.happened' }),
  );
  await t.app.db.prisma.outbox.updateMany({
    where: { eventId: event.id },
    data: { status: state.status, createdAt: state.createdAt, sentAt: state.sentAt ?? null, attempts: state.attempts ?? 0, lastError: state.status === 'failed' ? 'HTTP 500' : null },
  });
  return event.id;
}

const healthQuery = '{ outboxHealth { destination pending failed oldestPendingAgeSeconds } }';
const replayMutation = 'mutation($destination: String!) { replayFailedOutbox(destination: $destination) }';

describe('outboxHealth', () => {
  it('counts pending and failed rows per destination and ages the oldest pending one; sent rows are not counted', async () => {
    await seedRow('figures-a', { status: 'pending', createdAt: ago(90_000) });
    await seedRow('figures-a', { status: 'pending', createdAt: ago(10_000) });
    await seedRow('figures-a', { status: 'failed', attempts: 5 });
    await seedRow('figures-a', { status: 'sent', sentAt: new Date() });
    await seedRow('figures-b', { status: 'failed', attempts: 5 });
    await seedRow('figures-c', { status: 'sent', sentAt: new Date() });
    const body = await gql(healthQuery, {}, admin.headers);
    expect(body.errors).toBeUndefined();
    const rows = (body.data!.outboxHealth as Array<{ destination: string; pending: number; failed: number; oldestPendingAgeSeconds: number | null }>).filter((r) =>
      r.destination.startsWith('figures-'),
    );
    expect(rows.map(({ oldestPendingAgeSeconds, ...rest }) => rest)).toEqual([
      { destination: 'figures-a', pending: 2, failed: 1 },
      { destination: 'figures-b', pending: 0, failed: 1 },
    ]);
    // Seeded 90 s before the query; the query itself takes far less than a minute.
    expect(rows[0]!.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(rows[0]!.oldestPendingAgeSeconds).toBeLessThan(150);
    expect(rows[1]!.oldestPendingAgeSeconds).toBeNull();
  });

  it('is refused to anonymous callers and to users who are no realm admin', async () => {
    expect((await gql(healthQuery, {})).errors?.[0]?.extensions?.code).toBe('unauthenticated');
    expect((await gql(healthQuery, {}, user.headers)).errors?.[0]?.extensions?.code).toBe('forbidden');
  });

  it('/readyz shows the totals only, never the destinations (they name webhook endpoints)', async () => {
    await seedRow('webhook:00000000-0000-4000-8000-000000000001', { status: 'failed', attempts: 5 });
    const res = await fetch(`${t.url}/readyz`);
    const body = (await res.json()) as { outbox: { pending: number; failed: number; oldestPendingAgeSeconds: number | null } };
    const all = await t.app.db.prisma.outbox.groupBy({ by: ['status'], _count: true });
    const count = (status: string) => all.find((g) => g.status === status)?._count ?? 0;
    expect(res.status).toBe(200);
    expect(body.outbox).toMatchObject({ pending: count('pending'), failed: count('failed') });
    expect(JSON.stringify(body)).not.toContain('webhook:');
  });
});

describe('replayFailedOutbox', () => {
  it('makes the destination’s failed rows pending with attempts 0 and returns their count; other destinations and states are left alone', async () => {
    const failed = [await seedRow('replay-a', { status: 'failed', attempts: 5 }), await seedRow('replay-a', { status: 'failed', attempts: 5 })];
    const sent = await seedRow('replay-a', { status: 'sent', sentAt: new Date() });
    const elsewhere = await seedRow('replay-b', { status: 'failed', attempts: 5 });
    const body = await gql(replayMutation, { destination: 'replay-a' }, admin.headers);
    expect(body.errors).toBeUndefined();
    expect(body.data!.replayFailedOutbox).toBe(2);
    for (const eventId of failed) {
      expect(await t.app.db.prisma.outbox.findFirstOrThrow({ where: { eventId } })).toMatchObject({ status: 'pending', attempts: 0 });
    }
    expect((await t.app.db.prisma.outbox.findFirstOrThrow({ where: { eventId: sent } })).status).toBe('sent');
    expect(await t.app.db.prisma.outbox.findFirstOrThrow({ where: { eventId: elsewhere } })).toMatchObject({ status: 'failed', attempts: 5 });
    // The replay is on the record, by whom.
    const recorded = await t.app.db.prisma.event.findFirstOrThrow({ where: { type: 'outbox.failed_replayed', aggregateId: 'replay-a' } });
    expect(recorded.payload).toEqual({ destination: 'replay-a', count: 2 });
    expect((recorded.metadata as { actorId?: string }).actorId).toBe(admin.userId);
    // Nothing left to replay.
    expect((await gql(replayMutation, { destination: 'replay-a' }, admin.headers)).data!.replayFailedOutbox).toBe(0);
  });

  it('refuses anonymous callers, users who are no realm admin and an empty destination, changing nothing', async () => {
    const eventId = await seedRow('replay-denied', { status: 'failed', attempts: 5 });
    expect((await gql(replayMutation, { destination: 'replay-denied' })).errors?.[0]?.extensions?.code).toBe('unauthenticated');
    expect((await gql(replayMutation, { destination: 'replay-denied' }, user.headers)).errors?.[0]?.extensions?.code).toBe('forbidden');
    expect((await gql(replayMutation, { destination: '' }, admin.headers)).errors?.[0]?.extensions?.code).toBe('bad_request');
    expect(await t.app.db.prisma.outbox.findFirstOrThrow({ where: { eventId } })).toMatchObject({ status: 'failed', attempts: 5 });
  });
});

describe('retention', () => {
  it('removes sent rows older than OUTBOX_RETENTION_DAYS (7) and keeps newer sent, pending and failed rows and every event', async () => {
    const old = await seedRow('retention', { status: 'sent', sentAt: ago(8 * DAY) });
    const recent = await seedRow('retention', { status: 'sent', sentAt: ago(6 * DAY) });
    const oldPending = await seedRow('retention', { status: 'pending', createdAt: ago(30 * DAY) });
    const oldFailed = await seedRow('retention', { status: 'failed', createdAt: ago(30 * DAY), attempts: 5 });
    await t.app.cleanup.run();
    const left = await t.app.db.prisma.outbox.findMany({ where: { destination: 'retention' }, select: { eventId: true } });
    expect(new Set(left.map((r) => r.eventId))).toEqual(new Set([recent, oldPending, oldFailed]));
    expect(await t.app.db.prisma.event.count({ where: { id: { in: [old, recent, oldPending, oldFailed] } } })).toBe(4);
  });
});

describe('configuration', () => {
  const base = { DATABASE_URL: 'memory://' };
  it('has the relay on, the projection off and 7 days of retention by default', () => {
    expect(loadConfig(base).outbox).toEqual({ relayEnabled: true, retentionDays: 7, leaseMs: 120_000, projection: null });
  });

  it('turns the projection on into idgraph’s database, or into another one', () => {
    expect(loadConfig({ ...base, PROJECTION_ENABLED: 'true' }).outbox.projection).toEqual({ database: 'own' });
    const url = 'postgres://reader:pw@replica.example.com/analytics';
    expect(loadConfig({ ...base, PROJECTION_DATABASE_URL: url }).outbox.projection).toEqual({ database: 'separate', url });
    expect(loadConfig({ ...base, PROJECTION_ENABLED: 'true', PROJECTION_DATABASE_URL: url }).outbox.projection).toEqual({ database: 'separate', url });
  });

  it('refuses contradictory or invalid settings, naming them and hiding passwords', () => {
    const url = 'postgres://reader:hunter2@replica.example.com/analytics';
    expect(problemsOf({ ...base, PROJECTION_ENABLED: 'false', PROJECTION_DATABASE_URL: url })).toEqual([
      'PROJECTION_ENABLED: is false but PROJECTION_DATABASE_URL is set; unset one of them (got "false")',
    ]);
    const wrong = problemsOf({ ...base, PROJECTION_DATABASE_URL: 'mysql://reader:hunter2@db/analytics' });
    expect(wrong).toEqual(['PROJECTION_DATABASE_URL: must be a postgres:// or postgresql:// URL (got "mysql://reader:***@db/analytics")']);
    expect(problemsOf({ DATABASE_URL: url, PROJECTION_DATABASE_URL: url })[0]).toMatch(/^PROJECTION_DATABASE_URL: is idgraph's own database/);
    expect(problemsOf({ ...base, OUTBOX_RETENTION_DAYS: '0' })[0]).toMatch(/^OUTBOX_RETENTION_DAYS: /);
    expect(problemsOf({ ...base, RELAY_ENABLED: 'maybe' })[0]).toMatch(/^RELAY_ENABLED: /);
  });
});
