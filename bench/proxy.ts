import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { Agent, request } from 'undici';
import { fmt, idgraphEnv, machine, redactUrl, startProcess, writeSection } from './lib.js';

// idgraph in front of GoTrue: password sign-in and refresh through idgraph
// (/auth/v1 proxy and GraphQL) against the same calls made to the upstream
// directly, in the same run. idgraph's own database is a fresh PostgreSQL
// database when BENCH_DATABASE_URL or TEST_DATABASE_URL is set (its writes then
// leave its event loop), else in-memory PGlite. The upstream is an embedded idgraph in its own
// process (GoTrue-compatible /auth/v1); idgraph runs in another, and
// autocannon in this one. Goal: added p50 latency ≤ 1 ms, throughput ≥ 0.8 of
// direct. BENCH_DURATION seconds per measurement (default 10), BENCH_CONNECTIONS (10).

const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const latencySeconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const password = 'correct-horse-1';
type Result = Awaited<ReturnType<typeof autocannon>>;

/** The mean of several measurements of one target (throughput and latencies), with their failures summed. */
function meanOf(results: Result[]): Result {
  const mean = (pick: (r: Result) => number) => results.reduce((sum, r) => sum + pick(r), 0) / results.length;
  return {
    requests: { average: mean((r) => r.requests.average), p50: mean((r) => r.requests.p50), p99: mean((r) => r.requests.p99), total: mean((r) => r.requests.total) },
    latency: { average: mean((r) => r.latency.average), p50: mean((r) => r.latency.p50), p99: mean((r) => r.latency.p99), total: mean((r) => r.latency.total) },
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  };
}

/**
 * Every target measured `rounds` times in rotating order, so that what drifts
 * during a run (the upstream's tables grow with every session) weighs on each
 * path alike; a row is the mean of its rounds.
 */
async function measureRounds(targets: Target[]): Promise<Measured[]> {
  const runs = targets.map(() => ({ signIn: [] as Result[], refresh: [] as Result[], unloaded: { signIn: [] as number[], refresh: [] as number[] } }));
  for (const target of targets) await signInOnce(target);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + round) % targets.length;
      runs[i]!.signIn.push(await measureSignIn(targets[i]!));
      runs[i]!.refresh.push(await measureRefresh(targets[i]!));
    }
    for (const op of ['signIn', 'refresh'] as const) {
      const samples = await probeLatency(targets, op);
      samples.forEach((s, i) => runs[i]!.unloaded[op].push(...s));
    }
  }
  return targets.map((target, i) => ({
    target,
    signIn: meanOf(runs[i]!.signIn),
    refresh: meanOf(runs[i]!.refresh),
    unloaded: { signIn: percentiles(runs[i]!.unloaded.signIn), refresh: percentiles(runs[i]!.unloaded.refresh) },
  }));
}

interface Measured {
  target: Target;
  signIn: Result;
  refresh: Result;
  /** One request at a time: the latency a call gets when nothing queues. */
  unloaded: { signIn: Latency; refresh: Latency };
}
interface Latency {
  p50: number;
  p99: number;
  count: number;
}

function percentiles(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), count: sorted.length };
}

// One keep-alive connection per origin, as autocannon keeps its connections open.
const probeAgent = new Agent({ connections: 1 });

/**
 * Latency without queueing: one request at a time, each timed from sending to the last byte,
 * the targets taking turns request by request for BENCH_LATENCY_SECONDS per target, so that
 * each is timed under the same conditions (the upstream's tables grow as the run goes on).
 * Under the saturating load above, a closed loop of N connections waits N / throughput per
 * request (Little's law), so there any throughput lost shows up as added latency; this
 * isolates what the extra hop itself adds. Samples per target, in the order of `targets`.
 */
async function probeLatency(targets: Target[], op: 'signIn' | 'refresh'): Promise<number[][]> {
  const samples = targets.map((): number[] => []);
  const tokens = await Promise.all(targets.map((target) => (op === 'refresh' ? signInOnce(target) : '')));
  const until = performance.now() + latencySeconds * targets.length * 1000;
  while (performance.now() < until) {
    for (const [i, target] of targets.entries()) {
      const call = op === 'signIn' ? target.signIn : { url: target.refresh.url, body: target.refresh.body(tokens[i]!) };
      const started = performance.now();
      const res = await request(call.url, { method: 'POST', headers: target.headers, body: call.body, dispatcher: probeAgent });
      const text = await res.body.text();
      samples[i]!.push(performance.now() - started);
      if (res.statusCode !== 200) throw new Error(`${target.name}: ${op} answered ${res.statusCode}: ${text.slice(0, 200)}`);
      if (op === 'refresh') tokens[i] = target.refresh.next(text) ?? '';
    }
  }
  return samples;
}

const SIGN_IN = 'mutation($input: SignInInput!) { signIn(input: $input) { session { accessToken refreshToken } } }';
const REFRESH = 'mutation($input: RefreshSessionInput!) { refreshSession(input: $input) { session { accessToken refreshToken } } }';

/** How one target is called: the URL and body of a sign-in or refresh, and where the rotated refresh token is in the answer. */
interface Target {
  name: string;
  signIn: { url: string; body: string };
  refresh: { url: string; body: (token: string) => string; next: (answer: string) => string | undefined };
  headers: Record<string, string>;
}

function restTarget(name: string, base: string, apikey: string, email: string): Target {
  return {
    name,
    headers: { apikey, 'content-type': 'application/json' },
    signIn: { url: `${base}/token?grant_type=password`, body: JSON.stringify({ email, password }) },
    refresh: {
      url: `${base}/token?grant_type=refresh_token`,
      body: (token) => JSON.stringify({ refresh_token: token }),
      next: (answer) => (JSON.parse(answer) as { refresh_token?: string }).refresh_token,
    },
  };
}

function graphqlTarget(url: string, email: string): Target {
  return {
    name: 'idgraph GraphQL',
    headers: { 'content-type': 'application/json' },
    signIn: { url, body: JSON.stringify({ query: SIGN_IN, variables: { input: { email, password } } }) },
    refresh: {
      url,
      body: (token) => JSON.stringify({ query: REFRESH, variables: { input: { refreshToken: token } } }),
      next: (answer) => (JSON.parse(answer) as { data?: { refreshSession?: { session?: { refreshToken: string } } } }).data?.refreshSession?.session?.refreshToken,
    },
  };
}

async function signInOnce(target: Target): Promise<string> {
  const res = await fetch(target.signIn.url, { method: 'POST', headers: target.headers, body: target.signIn.body });
  const text = await res.text();
  const json = JSON.parse(text) as { refresh_token?: string; data?: { signIn?: { session?: { refreshToken: string } } } };
  const token = json.refresh_token ?? json.data?.signIn?.session?.refreshToken;
  if (!token) throw new Error(`${target.name}: sign-in failed: ${res.status} ${text.slice(0, 200)}`);
  return token;
}

const measureSignIn = (target: Target) =>
  autocannon({ url: target.signIn.url, method: 'POST', headers: target.headers, body: target.signIn.body, connections, duration });

/** Every refresh presents the token the previous answer returned (rotation on), from a pool of live tokens. */
async function measureRefresh(target: Target): Promise<Result> {
  const tokens: string[] = [];
  for (let i = 0; i < connections * 2; i++) tokens.push(await signInOnce(target));
  return autocannon({
    url: target.refresh.url,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        headers: target.headers,
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: target.refresh.body(tokens.shift() ?? '') }),
        onResponse: (status: number, body: string) => {
          const next = status === 200 ? target.refresh.next(body) : undefined;
          if (next) tokens.push(next);
        },
      },
    ],
  } as Parameters<typeof autocannon>[0]);
}

/** idgraph with GOTRUE_URL pointing at `gotrueBase`, in its own process. */
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const created: string[] = [];

/** A fresh database for one idgraph: PostgreSQL when configured, else in-memory PGlite. */
async function freshDatabase(): Promise<string> {
  if (!adminUrl) return 'memory://';
  const name = `idgraph_bench_proxy_${Date.now()}_${created.length}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  created.push(name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabases() {
  if (!adminUrl || created.length === 0) return;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

let idgraphDatabase = 'memory://';
const startIdgraphInFront = async (gotrueBase: string, anon: string, serviceRole: string, extra: Record<string, string>) =>
  startProcess(['src/main.ts'], {
    ...idgraphEnv((idgraphDatabase = await freshDatabase())),
    ...extra,
    GOTRUE_URL: gotrueBase,
    GOTRUE_ANON_KEY: anon,
    GOTRUE_SERVICE_ROLE_KEY: serviceRole,
    GOTRUE_JWT_ISSUER: 'http://localhost:4000/auth/v1',
  });

/**
 * The proxy's own cost: the same calls against a bare node:http server that
 * answers GoTrue's recorded bytes at once, directly and through idgraph.
 */
async function measureAgainstBare(answers: { session: string; user: string }, anon: string, serviceRole: string, email: string, extra: Record<string, string>) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-bench-')), 'answers.json');
  // The admin call idgraph makes at start (the bootstrap admin) gets a user; everything else the session.
  fs.writeFileSync(file, JSON.stringify({ email_confirm: answers.user, '': answers.session }));
  const bare = await startProcess(['bench/bare-server.ts', file], {});
  const proxy = await startIdgraphInFront(`http://127.0.0.1:${bare.port}/auth/v1`, anon, serviceRole, extra);
  const targets = [
    restTarget('bare stand-in directly', `http://127.0.0.1:${bare.port}/auth/v1`, anon, email),
    restTarget('idgraph /auth/v1 → bare stand-in', `http://127.0.0.1:${proxy.port}/auth/v1`, anon, email),
  ];
  try {
    const rows = await measureRounds(targets);
    return { rows, emptyGraphql: await probeEmptyGraphql(targets[0]!, `http://127.0.0.1:${proxy.port}/graphql`) };
  } finally {
    await proxy.stop();
    await bare.stop();
  }
}

/**
 * What GraphQL costs by itself, one request at a time: `{ __typename }` on idgraph (HTTP in and out
 * and yoga; no upstream call, no database) taking turns with a refresh answered by the stand-in.
 */
async function probeEmptyGraphql(standIn: Target, graphqlUrl: string): Promise<{ standIn: Latency; graphql: Latency }> {
  const emptyQuery: Target = {
    name: 'idgraph GraphQL { __typename }',
    headers: { 'content-type': 'application/json' },
    signIn: { url: graphqlUrl, body: JSON.stringify({ query: '{ __typename }' }) },
    refresh: { url: graphqlUrl, body: () => JSON.stringify({ query: '{ __typename }' }), next: () => '' },
  };
  const [standInSamples, graphqlSamples] = await probeLatency([standIn, emptyQuery], 'signIn');
  return { standIn: percentiles(standInSamples!), graphql: percentiles(graphqlSamples!) };
}

async function main() {
  // Per-IP and per-identifier limits off on both sides: every request comes from 127.0.0.1 for one address.
  const noLimits = { AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: '0', AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '0', AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' };
  const upstream = await startProcess(['src/main.ts'], { ...idgraphEnv('memory://'), ...noLimits });
  const anon = /anon key:\s+(\S+)/.exec(upstream.output())?.[1];
  const serviceRole = /service-role key:\s+(\S+)/.exec(upstream.output())?.[1];
  if (!anon || !serviceRole) throw new Error('the upstream did not print its keys');
  const upstreamBase = `http://127.0.0.1:${upstream.port}/auth/v1`;
  const proxy = await startIdgraphInFront(upstreamBase, anon, serviceRole, noLimits);
  const email = `bench-proxy-${Date.now()}@example.com`;
  const signup = await fetch(`${upstreamBase}/signup`, { method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (signup.status !== 200) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);

  const targets = [
    restTarget('upstream directly', upstreamBase, anon, email),
    restTarget('idgraph /auth/v1', `http://127.0.0.1:${proxy.port}/auth/v1`, anon, email),
    graphqlTarget(`http://127.0.0.1:${proxy.port}/graphql`, email),
  ];
  let rows: Measured[];
  let session: string;
  try {
    rows = await measureRounds(targets);
    const sample = await fetch(targets[0]!.signIn.url, { method: 'POST', headers: targets[0]!.headers, body: targets[0]!.signIn.body });
    session = await sample.text();
  } finally {
    await proxy.stop();
    await upstream.stop();
  }
  const user = JSON.stringify((JSON.parse(session) as { user: unknown }).user);
  const { rows: bareRows, emptyGraphql } = await measureAgainstBare({ session, user }, anon, serviceRole, email, noLimits).finally(dropDatabases);
  await probeAgent.close();

  const cell = (r: Result, base: Result) =>
    `${fmt(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${(r.requests.average / base.requests.average).toFixed(2)} | ${(r.latency.p50 - base.latency.p50).toFixed(1)} | ${r.non2xx + r.errors}`;
  const operations = [
    ['signIn', 'signIn (password)'],
    ['refresh', 'refreshSession'],
  ] as const;
  /** One row per path and operation; the first path is the direct one the others are compared with. */
  const table = (measured: Measured[]) => [
    '| path | operation | req/s | p50 ms | p99 ms | ratio to direct | added p50 ms | non-2xx + errors |',
    '|---|---|---|---|---|---|---|---|',
    ...measured.flatMap((r) => operations.map(([op, label]) => `| ${r.target.name} | ${label} | ${cell(r[op], measured[0]![op])} |`)),
  ];
  const unloadedTable = (measured: Measured[]) => [
    '| path | operation | calls | p50 ms | p99 ms | added p50 ms |',
    '|---|---|---|---|---|---|',
    ...measured.flatMap((r) =>
      operations.map(([op, label]) => {
        const l = r.unloaded[op];
        return `| ${r.target.name} | ${label} | ${l.count} | ${l.p50.toFixed(2)} | ${l.p99.toFixed(2)} | ${(l.p50 - measured[0]!.unloaded[op].p50).toFixed(2)} |`;
      }),
    ),
  ];
  /** Whether each path through idgraph met the goal, per operation: throughput under load, added latency unloaded. */
  const verdicts = (measured: Measured[]) =>
    measured.slice(1).flatMap((r) =>
      operations.map(([op]) => {
        const ratio = r[op].requests.average / measured[0]![op].requests.average;
        const added = r.unloaded[op].p50 - measured[0]!.unloaded[op].p50;
        const met = ratio >= 0.8 && added <= 1;
        return `- ${r.target.name}, ${op}: throughput ratio ${ratio.toFixed(2)}, added p50 ${added.toFixed(2)} ms: goal ${met ? 'met' : 'not met'}.`;
      }),
    );
  const lines = [
    '## idgraph in front of GoTrue: sign-in and refresh, proxied vs direct',
    '',
    'Run with `npm run bench:proxy` (env: `BENCH_DURATION`, `BENCH_CONNECTIONS`, `BENCH_ROUNDS`, `BENCH_LATENCY_SECONDS`). The upstream',
    'GoTrue is an embedded idgraph (GoTrue-compatible /auth/v1, PGlite in memory) in its own process; idgraph with `GOTRUE_URL`',
    'set runs in another; the load in a third, all on loopback and on the same CPUs. Each row calls the same upstream:',
    'directly, through idgraph\'s /auth/v1 proxy (streamed, plus mirroring after sign-in answers), or through the',
    'GraphQL mutations (adapter call, user mirror and event, tenant lookup). Goal: throughput ratio ≥ 0.8 of direct,',
    'added p50 ≤ 1 ms. Throughput is measured under load (autocannon); the added latency one request at a time',
    '(undici, timed to the microsecond). Under a saturating closed loop of N connections every request waits',
    'N / throughput (Little\'s law), so there the p50 grows by whatever throughput is lost and cannot tell the hop\'s own',
    'latency. The three processes share the same CPUs, so every cycle idgraph spends (HTTP in and out, and for',
    'sign-ins the mirror write and event) is taken from the CPU-bound upstream. Each figure is over all rounds;',
    'under load the paths are measured in rotating order, one request at a time they take turns request by request.',
    '',
    `Latest run: ${new Date().toISOString()}, ${machine()}, ${connections} connections under load, ${rounds} rounds of ${duration} s under load`,
    `and ${latencySeconds} s unloaded per path and operation; idgraph's database: ${redactUrl(idgraphDatabase).replace(/_\d+_\d+$/, '_…')}.`,
    '',
    'Under load:',
    '',
    ...table(rows),
    '',
    'One request at a time:',
    '',
    ...unloadedTable(rows),
    '',
    ...verdicts(rows),
    '',
    'The proxy\'s own cost, against a bare node:http stand-in answering GoTrue\'s recorded bytes at once (ratios and',
    'added latency relative to calling the stand-in directly), under load and one request at a time:',
    '',
    ...table(bareRows),
    '',
    ...unloadedTable(bareRows),
    '',
    `An empty GraphQL request (\`{ __typename }\`: HTTP in and out and yoga, no upstream call, no database), taking turns`,
    `with the stand-in's sign-in answer: p50 ${emptyGraphql.graphql.p50.toFixed(2)} ms against ${emptyGraphql.standIn.p50.toFixed(2)} ms (${emptyGraphql.graphql.count} calls each).`,
    'idgraph\'s GraphQL signIn and refreshSession add to that the upstream hop and one PostgreSQL round trip for the',
    'user\'s status and tenants (suspended users are refused at sign-in and refresh); signIn also writes the user',
    'mirror and its event, and looks for tenants the user may join on their own, before it answers.',
  ];
  writeSection('proxy', lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
