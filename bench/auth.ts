import os from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import autocannon from 'autocannon';
import { cpuPerRequest, createBenchDatabase, fmt, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// Password sign-ins and refreshes per second against /auth/v1, driven by
// autocannon on loopback against the real server in its own process. Sign-in is
// bounded by argon2id verification, measured alone in the same run; refresh is
// compared with a bare node:http server answering the same bytes.
// BENCH_DATABASE_URLS: comma-separated databases (default: memory://, plus
// TEST_DATABASE_URL when set). BENCH_DURATION seconds per measurement (default 10).

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const databases = (process.env.BENCH_DATABASE_URLS ?? ['memory://', process.env.TEST_DATABASE_URL].filter(Boolean).join(','))
  .split(',')
  .filter(Boolean);

/**
 * argon2id verifications per second with the engine's parameters, `concurrency` in flight (libuv pool),
 * and the CPU one verification takes (all of this process's threads).
 */
async function argon2Bound(seconds: number, concurrency: number): Promise<{ perSecond: number; cpuMs: number }> {
  const stored = await hash('correct-horse-1', { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  let done = 0;
  const started = process.cpuUsage();
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        await verify(stored, 'correct-horse-1');
        done++;
      }
    }),
  );
  const used = process.cpuUsage(started);
  return { perSecond: done / seconds, cpuMs: (used.user + used.system) / 1000 / done };
}

/** A PostgreSQL server URL gets a fresh database of its own (the server's first start prints the anon key). */
async function benchDatabase(serverUrl: string) {
  const fresh = serverUrl.startsWith('postgres') ? await createBenchDatabase(serverUrl) : null;
  try {
    return { ...(await benchOn(fresh?.url ?? serverUrl)), databaseUrl: serverUrl };
  } finally {
    await fresh?.drop();
  }
}

async function benchOn(databaseUrl: string) {
  const server = await startProcess(['src/main.ts'], idgraphEnv(databaseUrl));
  const anon = /anon key:\s+(\S+)/.exec(server.output())?.[1];
  if (!anon) throw new Error('the server did not print its anon key (was the database fresh?)');
  const base = `http://127.0.0.1:${server.port}/auth/v1`;
  const headers = { apikey: anon, 'content-type': 'application/json' };
  const email = `bench-${Date.now()}@example.com`;
  const signup = await fetch(`${base}/signup`, { method: 'POST', headers, body: JSON.stringify({ email, password: 'correct-horse-1' }) });
  if (signup.status !== 200) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);

  const completed = (r: { requests: { total: number } }) => r.requests.total;
  const signIn = await cpuPerRequest(
    server,
    () =>
      autocannon({
        url: `${base}/token?grant_type=password`,
        method: 'POST',
        headers,
        body: JSON.stringify({ email, password: 'correct-horse-1' }),
        connections,
        duration,
      }),
    completed,
  );

  // A pool of live refresh tokens: each request takes one and its answer puts the rotated one back, so every
  // token is presented exactly once (autocannon resets a connection's context between requests).
  const tokens: string[] = [];
  for (let i = 0; i < connections * 2; i++) {
    const res = await fetch(`${base}/token?grant_type=password`, { method: 'POST', headers, body: JSON.stringify({ email, password: 'correct-horse-1' }) });
    tokens.push(((await res.json()) as { refresh_token: string }).refresh_token);
  }
  const refresh = await cpuPerRequest(server, () => autocannon({
    url: `${base}/token?grant_type=refresh_token`,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        headers,
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ refresh_token: tokens.shift() }) }),
        onResponse: (status: number, body: string) => {
          if (status === 200) tokens.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      },
    ],
  }), completed);
  const sample = await fetch(`${base}/token?grant_type=refresh_token`, { method: 'POST', headers, body: JSON.stringify({ refresh_token: tokens.shift() }) });
  const sampleBody = await sample.text();
  await server.stop();

  const bare = await startProcess(['bench/bare-server.ts', '-'], { BARE_BODY: sampleBody });
  const bareRefresh = await autocannon({
    url: `http://127.0.0.1:${bare.port}/token`,
    method: 'POST',
    headers,
    body: JSON.stringify({ refresh_token: 'x' }),
    connections,
    duration,
  });
  await bare.stop();
  return { signIn, refresh, bareRefresh };
}

type CpuReading = { serverMs: number; postgresMs: number; clientMs: number };
const totalMs = (m: CpuReading) => m.serverMs + m.postgresMs + m.clientMs;

/**
 * What 90% of the argon2 bound leaves for the rest of a sign-in: the machine's CPUs, shared by
 * the server, PostgreSQL and autocannon, give each sign-in CPUs × 1000 ÷ (0.9 × bound) ms.
 */
function budgetLines(argon2: { perSecond: number; cpuMs: number }, rows: Array<{ databaseUrl: string; refresh: CpuReading }>) {
  const cpus = os.cpus().length;
  const perSignIn = (cpus * 1000) / (0.9 * argon2.perSecond);
  return [
    `At 0.9 of the bound a sign-in may take ${perSignIn.toFixed(2)} ms of CPU in all on these ${cpus} CPUs (${cpus} × 1000 ÷ (0.9 × ${fmt(argon2.perSecond)})).`,
    `argon2id takes ${argon2.cpuMs.toFixed(2)} of them, which leaves ${(perSignIn - argon2.cpuMs).toFixed(2)} ms for everything else a sign-in does: HTTP in and out`,
    'on both sides, the user lookup, the session write, ES256 signing, the user mirror and its event. A refresh does',
    `part of that (HTTP, one statement, ES256 signing) and takes ${rows.map((r) => `${totalMs(r.refresh).toFixed(2)} ms on ${redactUrl(r.databaseUrl)}`).join(', ')}.`,
  ];
}

async function main() {
  const argon2 = await argon2Bound(Math.max(3, duration / 2), connections);
  const bound = argon2.perSecond;
  const rows = [];
  for (const db of databases) rows.push(await benchDatabase(db));
  const lines = [
    '## /auth/v1: password sign-in and refresh',
    '',
    'Run with `npm run bench:auth` (env: `BENCH_DATABASE_URLS`, `BENCH_DURATION`, `BENCH_CONNECTIONS`).',
    'autocannon on loopback against the real server in its own process. Sign-in is bounded by argon2id',
    '(m=19456 KiB, t=2, p=1) verification, measured alone in the same run with the same concurrency;',
    'refresh is compared with a bare node:http server answering the same bytes. Each refresh presents the',
    'token the previous one returned (rotation on, no reuse). CPU columns: milliseconds of CPU per request used by',
    'the server process (argon2 included), by PostgreSQL (0 for the in-process PGlite) and by autocannon, which all',
    'share the same CPUs.',
    '',
    `Latest run: ${new Date().toISOString()}, ${machine()}, ${connections} connections, ${duration} s each.`,
    `argon2id verifications alone: **${fmt(bound)}/s**, ${argon2.cpuMs.toFixed(2)} ms of CPU each.`,
    '',
    '| database | sign-ins/s | sign-in / argon2 bound | sign-in p99 ms | sign-in CPU ms (server / PostgreSQL / autocannon) | refreshes/s | refresh p50 ms | refresh p99 ms | refresh CPU ms (server / PostgreSQL / autocannon) | bare refresh req/s | refresh / bare | non-2xx |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(({ databaseUrl, signIn, refresh, bareRefresh }) => {
      const cpu = (m: { serverMs: number; postgresMs: number; clientMs: number }) =>
        `${m.serverMs.toFixed(2)} / ${m.postgresMs.toFixed(2)} / ${m.clientMs.toFixed(2)}`;
      return (
        `| ${redactUrl(databaseUrl)} | ${fmt(signIn.result.requests.average)} | ${(signIn.result.requests.average / bound).toFixed(2)} | ${signIn.result.latency.p99} | ${cpu(signIn)} | ` +
        `${fmt(refresh.result.requests.average)} | ${refresh.result.latency.p50} | ${refresh.result.latency.p99} | ${cpu(refresh)} | ${fmt(bareRefresh.requests.average)} | ` +
        `${(refresh.result.requests.average / bareRefresh.requests.average).toFixed(3)} | ${signIn.result.non2xx + refresh.result.non2xx} |`
      );
    }),
    '',
    ...budgetLines(argon2, rows),
  ];
  writeSection('auth', lines.join('\n'));
}

runBench(main);
