import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEventStore } from '../../src/events/store.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.js';
import { runScript, type ScriptRun } from '../helpers/process.js';

// `npm run worker`: the relay as a process of its own. The crash test kills it with SIGKILL at random points while
// the outbox drains into a projection database, restarts it, and checks what arrived there. It appends 2,000
// events; IDGRAPH_CRASH_EVENTS raises that (10,000 for the full run).

const runWorker = (env: Record<string, string>) => runScript('src/worker.ts', [], env);

describe('the worker process', () => {
  it('refuses PGlite, whose data directory belongs to the API process', async () => {
    const run = runWorker({ DATABASE_URL: 'memory://' });
    expect(await run.exited).toBe(78);
    expect(run.err()).toContain('DATABASE_URL: the worker needs PostgreSQL');
  });
});

describe.skipIf(testDatabaseKind !== 'postgres')('the worker against PostgreSQL', () => {
  let t: TestApp;
  let target: TestDatabase;
  let receiver: pg.Client;
  beforeAll(async () => {
    target = await createPostgresDatabase();
    receiver = new pg.Client({ connectionString: target.url });
    await receiver.connect();
    // Every delivery the projection makes is recorded in arrival order, redeliveries included (a BEFORE trigger
    // runs for a row ON CONFLICT then skips).
    await receiver.query(`
      CREATE TABLE auth_events (event_id UUID PRIMARY KEY, type TEXT NOT NULL, aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
        version INTEGER NOT NULL, payload JSONB NOT NULL, occurred_at TIMESTAMPTZ(3) NOT NULL);
      CREATE TABLE arrivals (seq BIGSERIAL PRIMARY KEY, event_id UUID NOT NULL, aggregate_id TEXT NOT NULL, version INTEGER NOT NULL);
      CREATE FUNCTION record_arrival() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO arrivals (event_id, aggregate_id, version) VALUES (NEW.event_id, NEW.aggregate_id, NEW.version);
        RETURN NEW;
      END $$;
      CREATE TRIGGER record_arrival BEFORE INSERT ON auth_events FOR EACH ROW EXECUTE FUNCTION record_arrival();`);
    t = await startTestApp({ env: { RELAY_ENABLED: 'false', PROJECTION_DATABASE_URL: target.url } });
  });
  afterAll(async () => {
    await t.close();
    await receiver.end();
    await target.drop();
  });

  const workerEnv = () => ({ DATABASE_URL: t.database.url, PROJECTION_DATABASE_URL: target.url, OUTBOX_LEASE_SECONDS: '2', LOG_LEVEL: 'warn' });
  const undelivered = () => t.app.db.prisma.outbox.count({ where: { status: { not: 'sent' } } });

  it('killed with SIGKILL at random points, delivers every event at least once and each aggregate in order; SIGTERM exits 0', async () => {
    const total = Number(process.env.IDGRAPH_CRASH_EVENTS ?? 2000);
    const aggregates = Array.from({ length: 50 }, () => crypto.randomUUID());
    const store = createEventStore({ destinations: ['projection'] });
    const events = await t.app.db.prisma.$transaction(
      async (tx) => {
        const stored = [];
        for (let i = 0; i < total; i++) {
          stored.push(await store.appendEvent(tx, { aggregateType: 'crash', aggregateId: aggregates[i % aggregates.length]!, type: 'crash.step', payload: { i } }));
        }
        return stored;
      },
      { timeout: 600_000 },
    );

    let kills = 0;
    let worker: ScriptRun = runWorker(workerEnv());
    // Kill at random points of the drain (once this worker has delivered something) until the outbox is drained
    // or 8 kills are done, restarting each time.
    while (kills < 8) {
      const left = await undelivered();
      if (left === 0) break;
      await vi.waitFor(async () => expect(await undelivered()).toBeLessThan(left), { timeout: 120_000, interval: 20 });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
      worker.child.kill('SIGKILL');
      await worker.exited;
      kills++;
      worker = runWorker(workerEnv());
    }
    await vi.waitFor(async () => expect(await undelivered()).toBe(0), { timeout: 600_000, interval: 250 });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);

    const projected = await receiver.query<{ event_id: string }>("SELECT event_id::text FROM auth_events WHERE aggregate_type = 'crash'");
    expect(new Set(projected.rows.map((r) => r.event_id))).toEqual(new Set(events.map((e) => e.id)));
    const arrivals = (await receiver.query<{ aggregate_id: string; version: number }>('SELECT aggregate_id, version FROM arrivals WHERE aggregate_id = ANY($1) ORDER BY seq', [aggregates])).rows;
    // Per aggregate, a version arrives only once every earlier one has (a redelivery may repeat the last ones).
    const highest = new Map<string, number>();
    const outOfOrder = arrivals.filter(({ aggregate_id, version }) => {
      const seen = highest.get(aggregate_id) ?? 0;
      highest.set(aggregate_id, Math.max(seen, version));
      return version > seen + 1;
    });
    expect(outOfOrder).toEqual([]);
    console.info(`crash test: ${total} events, ${kills} SIGKILLs, ${arrivals.length} deliveries (${arrivals.length - total} repeated)`);
  }, 900_000);
});
