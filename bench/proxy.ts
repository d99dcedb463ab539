import autocannon from 'autocannon';
import { fmt, idgraphEnv, machine, startProcess, writeSection } from './lib.js';

// idgraph in front of GoTrue: password sign-in and refresh through idgraph
// (/auth/v1 proxy and GraphQL) against the same calls made to the upstream
// directly, in the same run. The upstream is an embedded idgraph in its own
// process (GoTrue-compatible /auth/v1); idgraph runs in another, and
// autocannon in this one. Goal: added p50 latency ≤ 1 ms, throughput ≥ 0.8 of
// direct. BENCH_DURATION seconds per measurement (default 10), BENCH_CONNECTIONS (10).

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const password = 'correct-horse-1';
type Result = Awaited<ReturnType<typeof autocannon>>;

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

async function main() {
  // Per-IP and per-identifier limits off on both sides: every request comes from 127.0.0.1 for one address.
  const noLimits = { AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: '0', AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '0', AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' };
  const upstream = await startProcess(['src/main.ts'], { ...idgraphEnv('memory://'), ...noLimits });
  const anon = /anon key:\s+(\S+)/.exec(upstream.output())?.[1];
  const serviceRole = /service-role key:\s+(\S+)/.exec(upstream.output())?.[1];
  if (!anon || !serviceRole) throw new Error('the upstream did not print its keys');
  const upstreamBase = `http://127.0.0.1:${upstream.port}/auth/v1`;
  const proxy = await startProcess(['src/main.ts'], {
    ...idgraphEnv('memory://'),
    ...noLimits,
    GOTRUE_URL: upstreamBase,
    GOTRUE_ANON_KEY: anon,
    GOTRUE_SERVICE_ROLE_KEY: serviceRole,
    GOTRUE_JWT_ISSUER: 'http://localhost:4000/auth/v1',
  });
  const email = `bench-proxy-${Date.now()}@example.com`;
  const signup = await fetch(`${upstreamBase}/signup`, { method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (signup.status !== 200) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);

  const targets = [
    restTarget('upstream directly', upstreamBase, anon, email),
    restTarget('idgraph /auth/v1', `http://127.0.0.1:${proxy.port}/auth/v1`, anon, email),
    graphqlTarget(`http://127.0.0.1:${proxy.port}/graphql`, email),
  ];
  const rows: Array<{ target: Target; signIn: Result; refresh: Result }> = [];
  try {
    for (const target of targets) {
      await signInOnce(target);
      rows.push({ target, signIn: await measureSignIn(target), refresh: await measureRefresh(target) });
    }
  } finally {
    await proxy.stop();
    await upstream.stop();
  }

  const direct = rows[0]!;
  const cell = (r: Result, base: Result) =>
    `${fmt(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${(r.requests.average / base.requests.average).toFixed(2)} | ${(r.latency.p50 - base.latency.p50).toFixed(1)} | ${r.non2xx + r.errors}`;
  const lines = [
    '## idgraph in front of GoTrue: sign-in and refresh, proxied vs direct',
    '',
    'Run with `npm run bench:proxy` (env: `BENCH_DURATION`, `BENCH_CONNECTIONS`). The upstream GoTrue is an embedded',
    'idgraph (GoTrue-compatible /auth/v1, PGlite in memory) in its own process; idgraph with `GOTRUE_URL` set runs in',
    'another; autocannon in a third, all on loopback and on the same CPUs. Each row calls the same upstream:',
    'directly, through idgraph\'s /auth/v1 proxy (streamed, plus mirroring after sign-in answers), or through the',
    'GraphQL mutations (adapter call, user mirror and events, tenant lookup). Goal: added p50 ≤ 1 ms, throughput',
    'ratio ≥ 0.8 of direct.',
    '',
    `Latest run: ${new Date().toISOString()}, ${machine()}, ${connections} connections, ${duration} s each.`,
    '',
    '| path | operation | req/s | p50 ms | p99 ms | ratio to direct | added p50 ms | non-2xx + errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.flatMap((r) => [
      `| ${r.target.name} | signIn (password) | ${cell(r.signIn, direct.signIn)} |`,
      `| ${r.target.name} | refreshSession | ${cell(r.refresh, direct.refresh)} |`,
    ]),
  ];
  writeSection('proxy', lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
