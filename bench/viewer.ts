import autocannon from 'autocannon';
import os from 'node:os';
import pg from 'pg';
import { cpuPerRequest, createBenchDatabase, databaseBackendsCpuMs, fmt, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// Authenticated `viewer { user memberships { tenant role } }` under autocannon
// (50 connections), against a bare node:http + jose + pg reference doing the
// same verification and SQL in the same run. Needs PostgreSQL (both servers
// share the database): BENCH_DATABASE_URL, else TEST_DATABASE_URL.

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const tenants = 5;
const query = '{ viewer { user { id email } memberships { tenant { id displayName } role { name permissions } } } }';

const loadAverage = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function main() {
  const loadAtStart = loadAverage();
  if (!adminUrl) throw new Error('bench/viewer.ts needs PostgreSQL: set BENCH_DATABASE_URL or TEST_DATABASE_URL');
  const database = await createBenchDatabase(adminUrl);
  const databaseUrl = database.url;
  const server = await startProcess(['src/main.ts'], idgraphEnv(databaseUrl));
  try {
    const anon = /anon key:\s+(\S+)/.exec(server.output())![1]!;
    const base = `http://127.0.0.1:${server.port}`;
    const signUp = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: anon },
      body: JSON.stringify({ query: 'mutation { signUp(input: { email: "bench@example.com", password: "correct-horse-1" }) { user { id } } }' }),
    });
    const userId = ((await signUp.json()) as { data: { signUp: { user: { id: string } } } }).data.signUp.user.id;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const { rows: roles } = await db.query(`SELECT id FROM roles WHERE name = 'member'`);
    for (let i = 0; i < tenants; i++) {
      const { rows } = await db.query(
        `INSERT INTO tenants (id, realm_id, slug, display_name, updated_at) SELECT gen_random_uuid(), id, $1, $2, now() FROM realms LIMIT 1 RETURNING id`,
        [`bench-${i}`, `Bench tenant ${i}`],
      );
      await db.query(`INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, now())`, [
        userId,
        rows[0].id,
        roles[0].id,
      ]);
    }
    await db.end();
    const signIn = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation { signIn(input: { email: "bench@example.com", password: "correct-horse-1" }) { session { accessToken } } }' }),
    });
    const token = ((await signIn.json()) as { data: { signIn: { session: { accessToken: string } } } }).data.signIn.session.accessToken;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const body = JSON.stringify({ query });
    const expected = await (await fetch(`${base}/graphql`, { method: 'POST', headers, body })).text();

    const bare = await startProcess(['bench/bare-viewer.ts'], {
      DATABASE_URL: databaseUrl,
      JWKS_URL: `${base}/auth/v1/.well-known/jwks.json`,
      ISSUER: String((JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string }).iss),
      AUDIENCE: 'authenticated',
    });
    const run = (target: string, request: { headers: Record<string, string>; body: string } = { headers, body }) => autocannon({ url: target, method: 'POST', ...request, connections, duration });
    const measure = (process: { cpuMs(): number }, target: string, request?: { headers: Record<string, string>; body: string }) =>
      cpuPerRequest(process, () => run(target, request), (r) => r.requests.total, databaseBackendsCpuMs(new URL(databaseUrl).pathname.slice(1)));
    // What any GraphQL request costs idgraph before the viewer's reads: yoga alone, then yoga with the Bearer check.
    const typename = JSON.stringify({ query: '{ __typename }' });
    let idgraph: Awaited<ReturnType<typeof measure>>;
    let reference: Awaited<ReturnType<typeof measure>>;
    let floors: Array<[string, Awaited<ReturnType<typeof measure>>]>;
    try {
      const bareAnswer = await (await fetch(`http://127.0.0.1:${bare.port}/graphql`, { method: 'POST', headers, body })).text();
      if (bareAnswer !== expected) throw new Error(`the reference answers differently:\n${bareAnswer}\n${expected}`);
      await run(`${base}/graphql`);
      idgraph = await measure(server, `${base}/graphql`);
      reference = await measure(bare, `http://127.0.0.1:${bare.port}/graphql`);
      floors = [
        ['idgraph, `{ __typename }` anonymous', await measure(server, `${base}/graphql`, { headers: { 'content-type': 'application/json' }, body: typename })],
        ['idgraph, `{ __typename }` with the same Bearer token', await measure(server, `${base}/graphql`, { headers, body: typename })],
      ];
    } finally {
      await bare.stop();
    }
    const totalMs = (m: { serverMs: number; postgresMs: number; clientMs: number }) => m.serverMs + m.postgresMs + m.clientMs;
    const rows: Array<[string, Awaited<ReturnType<typeof measure>>]> = [['bare reference', reference], ['idgraph', idgraph], ...floors];

    const lines = [
      '## Authenticated viewer query',
      '',
      'Run with `npm run bench:viewer` (needs PostgreSQL: `BENCH_DATABASE_URL` or `TEST_DATABASE_URL`).',
      `\`${query}\` for a user in ${tenants} tenants, ${connections} connections, ${duration} s, against a bare`,
      'node:http server doing the same jose verification (remote JWKS, cached) and the same three reads (denylist, session',
      'and user status, user, memberships with tenant and role) as hand-written SQL with pg and named statements, in the',
      'same run; both answer byte-identical JSON. Goal: idgraph / bare ≥ 0.6. CPU columns: milliseconds of CPU per',
      'request used by the server process, by PostgreSQL (the backends connected to the bench database: other work on a',
      'shared server is left out) and by autocannon, which all share the CPUs. Row-level security is on, as by default: the two reads of',
      'tenant tables run as `idgraph_app` in the viewer\'s scope (bench:row-level-security measures what that costs).',
      '',
      `Latest run: ${new Date().toISOString()}, ${machine()}, database ${redactUrl(databaseUrl)}; load average ${loadAtStart} when it started, ${loadAverage()} when it ended.`,
      '',
      '| server | req/s | ÷ bare | p50 ms | p99 ms | server CPU ms/req | PostgreSQL CPU ms/req | autocannon CPU ms/req | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        ([name, { result, serverMs, postgresMs, clientMs }]) =>
          `| ${name} | ${fmt(result.requests.average)} | ${(result.requests.average / reference.result.requests.average).toFixed(2)} | ${result.latency.p50} | ${result.latency.p99} | ${serverMs.toFixed(2)} | ${postgresMs.toFixed(2)} | ${clientMs.toFixed(2)} | ${result.non2xx} |`,
      ),
      '',
      `idgraph / bare: **${(idgraph.result.requests.average / reference.result.requests.average).toFixed(2)}**`,
      '',
      'The last two rows are not the viewer query: they are what every GraphQL request costs idgraph before any',
      'resolver reads, in the same run. The machine\'s CPUs are shared by the three processes, so a ratio of 0.6 needs',
      `idgraph's whole request (server, PostgreSQL and autocannon CPU) within ${(totalMs(reference) / 0.6).toFixed(2)} ms, the bare reference's`,
      `${totalMs(reference).toFixed(2)} ms ÷ 0.6; the viewer query takes ${totalMs(idgraph).toFixed(2)} ms, an empty authenticated request ${totalMs(floors[1]![1]).toFixed(2)} ms.`,
    ];
    writeSection('viewer', lines.join('\n'));
  } finally {
    await server.stop();
    await database.drop();
  }
}

runBench(main);
