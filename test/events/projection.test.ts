import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signUpUser } from '../helpers/realm.js';

interface Projected {
  event_id: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  payload: unknown;
  occurred_at: Date;
}

/** The events as the projection must hold them. */
async function expectedRows(t: TestApp): Promise<Projected[]> {
  const events = await t.app.db.prisma.event.findMany({ orderBy: { id: 'asc' } });
  return events.map((e) => ({
    event_id: e.id,
    type: e.type,
    aggregate_type: e.aggregateType,
    aggregate_id: e.aggregateId,
    version: e.version,
    payload: e.payload,
    occurred_at: e.occurredAt,
  }));
}

/** Every outbox row delivered again, as after a relay that died before marking them. */
const redeliverEverything = async (t: TestApp) => {
  await t.app.db.prisma.$executeRaw`UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), sent_at = NULL`;
  await t.app.relay!.drainNow();
  // Accepted again (a plain INSERT would refuse the second copy and leave the rows to fail).
  expect(await t.app.db.prisma.outbox.count({ where: { status: { not: 'sent' } } })).toBe(0);
};

describe('projection into idgraph’s own database (PROJECTION_ENABLED=true)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PROJECTION_ENABLED: 'true' } });
  });
  afterAll(() => t.close());

  const projected = () =>
    t.app.db.prisma.$queryRaw<Projected[]>`
      SELECT event_id::text, type, aggregate_type, aggregate_id, version, payload, occurred_at FROM auth_events ORDER BY event_id`;

  it('receives every event exactly once in content, also when every row is delivered again', async () => {
    await signUpUser(t);
    await signUpUser(t);
    // One outbox row per event, for the projection only.
    const events = await t.app.db.prisma.event.count();
    expect(await t.app.db.prisma.outbox.groupBy({ by: ['destination'], _count: true })).toEqual([{ destination: 'projection', _count: events }]);
    await t.app.relay!.drainNow();
    expect(await t.app.db.prisma.outbox.count({ where: { status: { not: 'sent' } } })).toBe(0);
    expect(await projected()).toEqual(await expectedRows(t));

    await redeliverEverything(t);
    expect(await projected()).toEqual(await expectedRows(t));
  });
});

// The separate database is a PostgreSQL one; idgraph's own is either kind.
describe.skipIf(!process.env.TEST_DATABASE_URL)('projection into another database (PROJECTION_DATABASE_URL)', () => {
  let t: TestApp;
  let target: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    target = await createPostgresDatabase();
    client = new pg.Client({ connectionString: target.url });
    await client.connect();
    t = await startTestApp({ env: { PROJECTION_DATABASE_URL: target.url } });
  });
  afterAll(async () => {
    await t.close();
    await client.end();
    await target.drop();
  });

  const projected = async () =>
    (
      await client.query<Projected>(
        'SELECT event_id::text, type, aggregate_type, aggregate_id, version, payload, occurred_at FROM auth_events ORDER BY event_id',
      )
    ).rows;

  it('creates auth_events there and receives every event exactly once in content, also when delivered again', async () => {
    await signUpUser(t);
    await t.app.relay!.drainNow();
    expect(await t.app.db.prisma.outbox.count({ where: { status: { not: 'sent' } } })).toBe(0);
    expect(await projected()).toEqual(await expectedRows(t));
    await redeliverEverything(t);
    expect(await projected()).toEqual(await expectedRows(t));
  });
});
