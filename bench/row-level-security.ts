import autocannon from 'autocannon';
import os from 'node:os';
import pg from 'pg';
import { cpuPerRequest, createBenchDatabase, databaseBackendsCpuMs, graphql, fmt, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// What row-level security costs: the same GraphQL requests against two idgraph processes on one PostgreSQL
// database, one with ROW_LEVEL_SECURITY on (the default) and one with it off, taking turns in the same run.
// The callers are a member of 5 tenants (the viewer query, and the tenants page) and the realm admin (the
// tenants page over 50 tenants × 20 members, where the scope is every tenant of the realm).

const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;


/** 50 tenants of the admin with 20 members each; the member belongs to the first 5. */
async function seed(url: string, adminId: string, memberId: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `
      WITH realm AS (SELECT id FROM realms LIMIT 1),
           roles AS (SELECT (SELECT id FROM roles WHERE name = 'owner') AS owner, (SELECT id FROM roles WHERE name = 'member') AS member),
           tenants AS (
             INSERT INTO tenants (id, realm_id, slug, display_name, owner_id, updated_at)
             SELECT gen_random_uuid(), realm.id, 'bench-' || n, 'Bench tenant ' || n, $1::uuid, now() FROM realm, generate_series(1, 50) n
             RETURNING id, slug),
           users AS (
             INSERT INTO users (id, email, display_name, updated_at)
             SELECT gen_random_uuid(), 'member' || n || '@bench.test', 'Member ' || n, now() FROM generate_series(1, 19) n
             RETURNING id),
           owners AS (
             INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at)
             SELECT gen_random_uuid(), $1::uuid, tenants.id, roles.owner, now() FROM tenants, roles),
           caller AS (
             INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at)
             SELECT gen_random_uuid(), $2::uuid, tenants.id, roles.member, now() FROM tenants, roles
             WHERE tenants.slug IN ('bench-1', 'bench-2', 'bench-3', 'bench-4', 'bench-5'))
      INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at)
      SELECT gen_random_uuid(), users.id, tenants.id, roles.member, now() FROM tenants, users, roles`,
      [adminId, memberId],
    );
  } finally {
    await client.end();
  }
}

const loadAverage = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function main() {
  const loadAtStart = loadAverage();
  if (!serverUrl) throw new Error('bench:row-level-security needs PostgreSQL: set BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL');
  const database = await createBenchDatabase(serverUrl);
  const on = await startProcess(['src/main.ts'], idgraphEnv(database.url));
  const off = await startProcess(['src/main.ts'], { ...idgraphEnv(database.url), ROW_LEVEL_SECURITY: 'false' });
  try {
    const base = { on: `http://127.0.0.1:${on.port}`, off: `http://127.0.0.1:${off.port}` };
    const email = /email:\s+(\S+)/.exec(on.output())![1]!;
    const password = /password:\s+(\S+)/.exec(on.output())![1]!;
    const signIn = 'mutation($input: SignInInput!) { signIn(input: $input) { session { accessToken } user { id } } }';
    const admin = await graphql<{ signIn: { session: { accessToken: string }; user: { id: string } } }>(base.on, signIn, { input: { email, password } });
    const member = await graphql<{ signUp: { session: { accessToken: string }; user: { id: string } } }>(
      base.on,
      'mutation($input: SignUpInput!) { signUp(input: $input) { session { accessToken } user { id } } }',
      { input: { email: 'caller@bench.test', password: 'correct-horse-1' } },
    );
    await seed(database.url, admin.signIn.user.id, member.signUp.user.id);

    const viewerQuery = '{ viewer { user { id email } memberships { tenant { id displayName } role { name permissions } } } }';
    const pageQuery = '{ tenants(first: 50) { edges { node { id members(first: 20) { edges { node { user { id } role { name permissions } } } } } } } }';
    const cases = [
      { name: 'viewer, member of 5 tenants', query: viewerQuery, token: member.signUp.session.accessToken },
      { name: 'tenants page, member of 5 tenants', query: pageQuery, token: member.signUp.session.accessToken },
      { name: 'tenants page, realm admin (50 × 20)', query: pageQuery, token: admin.signIn.session.accessToken },
    ];
    // Both processes must give the same answers, or the comparison means nothing.
    for (const c of cases) {
      const answers = await Promise.all(
        Object.values(base).map(async (url) =>
          (await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` }, body: JSON.stringify({ query: c.query }) })).text(),
        ),
      );
      if (answers[0] !== answers[1]) throw new Error(`${c.name}: the answers differ:\n${answers.join('\n')}`);
      if (answers[0]!.includes('"errors"')) throw new Error(`${c.name}: ${answers[0]}`);
    }

    const postgresCpuMs = databaseBackendsCpuMs(new URL(database.url).pathname.slice(1));
    type Sample = { rps: number; p99: number; serverMs: number; postgresMs: number; non2xx: number };
    const samples = new Map<string, Sample[]>();
    const run = (which: 'on' | 'off', c: (typeof cases)[number], seconds: number) =>
      cpuPerRequest(
        which === 'on' ? on : off,
        () =>
          autocannon({
            url: `${base[which]}/graphql`,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
            body: JSON.stringify({ query: c.query }),
            connections,
            duration: seconds,
          }),
        (r) => r.requests.total,
        postgresCpuMs,
      );
    for (const c of cases) for (const which of ['on', 'off'] as const) await run(which, c, 2); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        // Alternate which goes first, so a load spike on a shared machine does not land on one side only.
        for (const which of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
          // The pool closes connections idle for 10 s, as each side's are during the other's turn: a new backend
          // compiles the policy functions and plans its statements again, which steady traffic pays once.
          await run(which, c, 1);
          const { result, serverMs, postgresMs } = await run(which, c, duration);
          const key = `${c.name}|${which}`;
          samples.set(key, [...(samples.get(key) ?? []), { rps: result.requests.average, p99: result.latency.p99, serverMs, postgresMs, non2xx: result.non2xx }]);
        }
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const summary = (key: string) => {
      const s = samples.get(key)!;
      return { rps: mean(s.map((x) => x.rps)), p99: mean(s.map((x) => x.p99)), serverMs: mean(s.map((x) => x.serverMs)), postgresMs: mean(s.map((x) => x.postgresMs)), non2xx: s.reduce((n, x) => n + x.non2xx, 0) };
    };
    const rows = cases.flatMap((c) => {
      const a = summary(`${c.name}|on`);
      const b = summary(`${c.name}|off`);
      return [
        `| ${c.name} | off | ${fmt(b.rps)} | 1.00 | ${fmt(b.p99)} | ${b.serverMs.toFixed(2)} | ${b.postgresMs.toFixed(2)} | ${b.non2xx} |`,
        `| ${c.name} | **on** | ${fmt(a.rps)} | ${(a.rps / b.rps).toFixed(2)} | ${fmt(a.p99)} | ${a.serverMs.toFixed(2)} | ${a.postgresMs.toFixed(2)} | ${a.non2xx} |`,
      ];
    });
    const lines = [
      '## Row-level security: what the second guard costs',
      '',
      'Run with `npm run bench:row-level-security` (PostgreSQL; `BENCH_DURATION`, `BENCH_ROUNDS`, `BENCH_CONNECTIONS`). Two idgraph',
      'processes on one database, `ROW_LEVEL_SECURITY` on and off, answer the same requests byte for byte; they take turns,',
      `${rounds} rounds of ${duration} s per case and side after a 2 s warm-up (and 1 s right before each), ${connections} connections; figures are the means.`,
      'With it on, a statement on a tenant table in a caller’s operation runs as `idgraph_app` with the caller’s scope, set',
      'in the same round trip (set_config executed just before the statement, up to one Sync); the policies compute the',
      'scope’s tenants once per statement, whatever the number of tenant tables it names. CPU columns: ms per request of the',
      'idgraph process and of the PostgreSQL backends connected to the bench database (other work on a shared server is left',
      'out); both share the 2 CPUs with autocannon. Compare the on and off rows of one run: they take turns.',
      '',
      `Latest run: ${new Date().toISOString()}, ${machine()}, database ${redactUrl(database.url)}; load average ${loadAtStart} when it started, ${loadAverage()} when it ended.`,
      '',
      '| request | RLS | req/s | ÷ off | p99 ms | idgraph CPU ms/req | PostgreSQL CPU ms/req | non-2xx |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
    ];
    writeSection('row-level-security', lines.join('\n'));
  } finally {
    await on.stop();
    await off.stop();
    await database.drop();
  }
}

runBench(main);
