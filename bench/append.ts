import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { applyMigrations } from '../src/db/migrate.js';
import { createEventStore } from '../src/events/store.js';
import { createBenchDatabase, fmt, machine, redactUrl, runBench, writeSection } from './lib.js';

// What the ordered append costs: 50 writers, each committing one transaction after another, either appending an
// event (idgraph_append_event: the append lock, the aggregate's next version, the row, and its outbox rows) or
// inserting a plain row of the same size. The modes take turns in the same run, on one PostgreSQL database.

const writers = Number(process.env.BENCH_WRITERS ?? 50);
const seconds = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

type Mode = 'plain row' | 'append, no outbox row' | 'append + 1 outbox row';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

async function main() {
  if (!serverUrl) throw new Error('bench:append needs PostgreSQL: set BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL');
  const database = await createBenchDatabase(serverUrl);
  const config = loadConfig({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: String(writers) });
  const db = await openDatabase(config.database);
  try {
    await applyMigrations(db);
    await db.prisma.$executeRawUnsafe('CREATE TABLE bench_plain (id uuid PRIMARY KEY, aggregate_id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL)');
    const bare = createEventStore({ destinations: [] });
    const queued = createEventStore({ destinations: ['bench'] });
    const aggregates = Array.from({ length: writers }, () => crypto.randomUUID());
    const payload = { tenantId: crypto.randomUUID(), changes: ['displayName'] };

    // Writers queue for pool connections and, when appending, for the append lock: no wait counts as a failure here.
    const waits = { maxWait: 120_000, timeout: 120_000 };
    const write: Record<Mode, (writer: number) => Promise<unknown>> = {
      'plain row': (w) =>
        db.prisma.$transaction((tx) => tx.$executeRaw`
          INSERT INTO bench_plain (id, aggregate_id, type, payload) VALUES (${crypto.randomUUID()}::uuid, ${aggregates[w]}, 'tenant.updated', ${JSON.stringify(payload)}::jsonb)`, waits),
      'append, no outbox row': (w) =>
        db.prisma.$transaction((tx) => bare.appendEvent(tx, { aggregateType: 'tenant', aggregateId: aggregates[w]!, type: 'tenant.updated', payload }), waits),
      'append + 1 outbox row': (w) =>
        db.prisma.$transaction((tx) => queued.appendEvent(tx, { aggregateType: 'tenant', aggregateId: aggregates[w]!, type: 'tenant.updated', payload }), waits),
    };

    const results = new Map<Mode, { count: number; ms: number; latencies: number[] }>();
    const runMode = async (mode: Mode) => {
      const latencies: number[] = [];
      const start = performance.now();
      const until = start + seconds * 1000;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          while (performance.now() < until) {
            const t0 = performance.now();
            await write[mode](w);
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const total = results.get(mode) ?? { count: 0, ms: 0, latencies: [] };
      total.count += latencies.length;
      total.ms += performance.now() - start;
      total.latencies.push(...latencies);
      results.set(mode, total);
    };

    const modes = Object.keys(write) as Mode[];
    for (const mode of modes) await runMode(mode); // warm-up, not counted
    results.clear();
    for (let round = 0; round < rounds; round++) for (const mode of round % 2 ? [...modes].reverse() : modes) await runMode(mode);

    const rate = (mode: Mode) => (results.get(mode)!.count / results.get(mode)!.ms) * 1000;
    const plain = rate('plain row');
    const lines = modes.map((mode) => {
      const sorted = [...results.get(mode)!.latencies].sort((a, b) => a - b);
      return `| ${mode} | ${fmt(rate(mode))} | ${fmt(percentile(sorted, 50))} | ${fmt(percentile(sorted, 99))} | ${(rate(mode) / plain).toFixed(2)} |`;
    });
    writeSection(
      'append',
      `## Event append throughput: ${writers} concurrent writers

\`npm run bench:append\` (${new Date().toISOString().slice(0, 10)}; ${machine()}; PostgreSQL at ${redactUrl(serverUrl)}).
${writers} writers each commit one transaction after another through Prisma for ${seconds} s per turn, ${rounds}
rounds taking turns: an event appended (\`idgraph_append_event\`) or a plain row of the same size inserted.

| each transaction | commits/s | p50 ms | p99 ms | vs plain row |
|---|---|---|---|---|
${lines.join('\n')}

The append lock limits it. \`idgraph_append_event\` takes one advisory lock, held until the transaction commits,
so that versions are gapless and positions commit in increasing order (subscribers replay by position and must
never see a later position commit before an earlier one). Appends therefore run one at a time: their
throughput is about one over the time the lock is held (the append statement, the rest of the caller's
transaction and its commit), whatever the number of writers. Plain inserts run side by side.

What would lift it:
- Take the lock as late as possible: append as the transaction's last statement, so the lock covers only the append and the commit.
- Lock per aggregate for versions, and let readers stop at the oldest position still in flight, instead of forcing commit order.
  Readers would tail by \`pg_snapshot_xmin(pg_current_snapshot())\` against a transaction id stored with each event.`,
    );
  } finally {
    await db.close();
    await database.drop();
  }
}

runBench(main);
