import os from 'node:os';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import { WebSocket } from 'ws';
import { createBenchDatabase, fmt, graphql, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// BENCH_SUBSCRIBERS graphql-ws clients (one WebSocket each) subscribe to auditEvents on one idgraph process;
// events are appended at BENCH_RATE per second for BENCH_DURATION seconds with SQL on a connection of their own,
// as another replica would. Latency runs from just before the append statement is sent to the moment a
// subscriber has the event (same clock: the appender and the subscribers share this process). The server's
// resident memory is read from /proc with no subscriber, with all of them idle, and at the end.
// PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL names a server (a fresh database is created on it).
// All subscribers hold one token. Subscribers of one token running one operation share one execution of the
// selection per event; BENCH_OPERATIONS spreads them over that many operations (filters naming one more event
// type each), so that only those of one operation share: with one per subscriber, each event is executed for
// every subscriber, as it is for subscribers holding different tokens.

const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const rate = Number(process.env.BENCH_RATE ?? 10);
const duration = Number(process.env.BENCH_DURATION ?? 15);
const operations = Math.min(subscribers, Math.max(1, Number(process.env.BENCH_OPERATIONS ?? 1)));
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;

const now = () => performance.timeOrigin + performance.now();
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const mib = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MiB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const loadAverage = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
/** An error's code: a GraphQL error's extensions.code, or the close code of a socket closed on the client. */
const errorCode = (e: unknown) =>
  Array.isArray(e)
    ? String((e[0] as { extensions?: { code?: string } })?.extensions?.code)
    : e instanceof Error
      ? e.message
      : typeof (e as { code?: unknown })?.code === 'number'
        ? `socket closed ${(e as { code: number }).code} ${(e as { reason?: string }).reason ?? ''}`.trim()
        : String(e);

async function main() {
  if (!serverUrl) throw new Error('BENCH_DATABASE_URL or TEST_DATABASE_URL must name a PostgreSQL server');
  const loadAtStart = loadAverage();
  const database = await createBenchDatabase(serverUrl);
  const server = await startProcess(['src/main.ts'], { ...idgraphEnv(database.url), DATABASE_POOL_SIZE: '10' });
  const appender = new pg.Client({ connectionString: database.url });
  await appender.connect();
  const clients: Client[] = [];
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const email = /email:\s+(\S+)/.exec(server.output())![1]!;
    const password = /password:\s+(\S+)/.exec(server.output())![1]!;
    const { signIn } = await graphql<{ signIn: { session: { accessToken: string } } }>(
      base,
      'mutation($input: SignInInput!) { signIn(input: $input) { session { accessToken } } }',
      { input: { email, password } },
    );
    const realmId = ((await appender.query(`SELECT id::text FROM realms WHERE slug = 'default'`)).rows[0] as { id: string }).id;
    await sleep(1000);
    const rssIdle = server.rssBytes();

    // Each subscriber keeps the latency of every event it got, by the event's sequence number.
    const latencies: number[] = [];
    const received = new Array<number>(subscribers).fill(0);
    const errors: unknown[] = [];
    const typesOf = (i: number) => (operations === 1 ? '"bench.fanned_out"' : `"bench.fanned_out", "bench.operation_${i % operations}"`);
    for (let i = 0; i < subscribers; i++) {
      // In groups: each subscription checks its caller's access once, through the server's pool of connections.
      if (i > 0 && i % 50 === 0) await sleep(250);
      const client = createClient({
        url: `ws://127.0.0.1:${server.port}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${signIn.session.accessToken}` },
      });
      clients.push(client);
      client.subscribe<{ auditEvents: { node: { payload: { sentAt: number; run: string } } } }>(
        { query: `subscription { auditEvents(filter: { types: [${typesOf(i)}] }) { cursor node { payload } } }` },
        {
          next: ({ data, errors: e }) => {
            if (e) errors.push(e);
            const payload = data?.auditEvents.node.payload;
            if (!payload) return;
            received[i]!++;
            if (payload.run === 'measure') latencies.push(now() - payload.sentAt);
          },
          error: (e) => errors.push(e),
          complete: () => {},
        },
      );
    }
    const append = (run: string) =>
      appender.query(
        `SELECT position FROM idgraph_append_event(gen_random_uuid(), 'bench', 'fan-out', 'bench.fanned_out',
           $1::jsonb, '{}'::jsonb, $2::uuid, NULL, '{}'::text[])`,
        [JSON.stringify({ sentAt: now(), run }), realmId],
      );
    // Warm-up: until every subscriber is live (a subscription started live only sees what comes after it).
    const warmUpDeadline = Date.now() + 120_000;
    while (received.some((n) => n === 0)) {
      if (Date.now() > warmUpDeadline) throw new Error(`${received.filter((n) => n === 0).length} subscribers got nothing: ${errors.slice(0, 3).map(errorCode).join(', ')}`);
      await append('warm-up');
      await sleep(250);
    }
    await sleep(1000);
    const rssSubscribed = server.rssBytes();

    const total = rate * duration;
    const cpuBefore = { server: server.cpuMs(), bench: process.cpuUsage() };
    const started = now();
    for (let n = 0; n < total; n++) {
      const due = started + (n * 1000) / rate;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      await append('measure');
    }
    const expected = total * subscribers;
    const deadline = Date.now() + 60_000;
    while (latencies.length < expected && Date.now() < deadline) await sleep(100);
    const rssEnd = server.rssBytes();
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    const perDelivery = (ms: number) => (1000 * ms) / Math.max(1, latencies.length);
    const cpu = `${fmt(perDelivery(server.cpuMs() - cpuBefore.server))} / ${fmt(perDelivery((benchCpu.user + benchCpu.system) / 1000))}`;
    const sorted = [...latencies].sort((a, b) => a - b);

    const lines = [
      '## Fan-out: auditEvents subscribers on one instance',
      '',
      'Run with `npm run bench:fan-out` (env: `BENCH_DATABASE_URL`, `BENCH_SUBSCRIBERS`, `BENCH_OPERATIONS`, `BENCH_RATE`, `BENCH_DURATION`).',
      `${subscribers} graphql-ws clients (one WebSocket each, in the bench process) follow \`auditEvents\` on one idgraph`,
      'process; events are appended with SQL on a connection of their own (as another replica would) at a steady rate.',
      'Latency: from just before the append is sent to a subscriber holding the event (one clock). The server tails the',
      'log once per batch for all subscribers, woken by NOTIFY; the bench process shares the same CPUs. Subscribers holding',
      'one token and running one operation share one execution of the selection per event; the subscribers here hold one',
      'token and are spread over `operations` operations (filters naming one more event type each), so that with one',
      'operation per subscriber each event is executed for every subscriber, as for subscribers holding different tokens.',
      'Each delivery also costs one WebSocket frame. The server CPU per delivery, times the deliveries per second, is what',
      'bounds the rate before latency grows; it is the figure to compare across runs on a shared machine, latency is not.',
      '',
      `Latest run: ${new Date().toISOString()}, ${machine()}, ${redactUrl(database.url)}; load average ${loadAtStart} when it started, ${loadAverage()} when it ended.`,
      '',
      '| subscribers | operations | events/s | events | deliveries | p50 ms | p99 ms | max ms | CPU µs per delivery (server / bench) | server RSS: idle / subscribed / end | errors |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      `| ${subscribers} | ${operations} | ${rate} | ${total} | ${latencies.length} of ${expected} | ${fmt(percentile(sorted, 50))} | ${fmt(percentile(sorted, 99))} | ${fmt(sorted.at(-1) ?? NaN)} | ${cpu} | ${mib(rssIdle)} / ${mib(rssSubscribed)} / ${mib(rssEnd)} | ${errors.length} |`,
    ];
    const codes = new Map<string, number>();
    for (const e of errors) codes.set(errorCode(e), (codes.get(errorCode(e)) ?? 0) + 1);
    if (codes.size > 0) lines.push('', `Errors: ${[...codes].map(([code, n]) => `${code} × ${n}`).join(', ')}.`);
    writeSection('fan-out', lines.join('\n'));
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await appender.end();
    await server.stop();
    await database.drop();
  }
}

runBench(main);
