import autocannon, { type Request } from 'autocannon';
import pg from 'pg';
import { createBenchDatabase, graphql, fmt, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// Realm reads and writes through GraphQL on PostgreSQL: the tenants/members
// page of the N+1 test (50 tenants × 20 members), and createTenant /
// createInvitation, each request a new tenant or invitation. Fixtures are
// written straight to the database; the requests go through the real server.

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;


/** 50 tenants of the admin, each with 20 members (mirrored users), in a few statements. */
async function seed(url: string, adminId: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      WITH realm AS (SELECT id FROM realms LIMIT 1),
           roles AS (SELECT (SELECT id FROM roles WHERE name = 'owner') AS owner, (SELECT id FROM roles WHERE name = 'member') AS member),
           tenants AS (
             INSERT INTO tenants (id, realm_id, slug, display_name, owner_id, updated_at)
             SELECT gen_random_uuid(), realm.id, 'bench-' || n, 'Bench tenant ' || n, $1::uuid, now() FROM realm, generate_series(1, 50) n
             RETURNING id),
           users AS (
             INSERT INTO users (id, email, display_name, updated_at)
             SELECT gen_random_uuid(), 'member' || n || '@bench.test', 'Member ' || n, now() FROM generate_series(1, 20) n
             RETURNING id),
           owners AS (
             INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at)
             SELECT gen_random_uuid(), $1::uuid, tenants.id, roles.owner, now() FROM tenants, roles)
      INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at)
      SELECT gen_random_uuid(), users.id, tenants.id, roles.member, now() FROM tenants, users, roles`, [adminId]);
  } finally {
    await client.end();
  }
}

async function main() {
  if (!serverUrl) throw new Error('bench:realm-operations needs PostgreSQL: set BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL');
  const database = await createBenchDatabase(serverUrl);
  const server = await startProcess(['src/main.ts'], idgraphEnv(database.url));
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const email = /email:\s+(\S+)/.exec(server.output())![1]!;
    const password = /password:\s+(\S+)/.exec(server.output())![1]!;
    const signIn = await graphql<{ signIn: { session: { accessToken: string }; user: { id: string } } }>(
      base,
      'mutation($input: SignInInput!) { signIn(input: $input) { session { accessToken } user { id } } }',
      { input: { email, password } },
    );
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${signIn.signIn.session.accessToken}` };
    await seed(database.url, signIn.signIn.user.id);
    const target = await graphql<{ createTenant: { tenant: { id: string } } }>(base, 'mutation { createTenant(input: { displayName: "Invitations" }) { tenant { id } } }', {}, headers);
    const tenantId = target.createTenant.tenant.id;

    const readQuery = '{ tenants(first: 50) { edges { node { id members(first: 20) { edges { node { user { email } role { name permissions } } } } } } } }';
    const page = await graphql<{ tenants: { edges: Array<{ node: { members: { edges: unknown[] } } }> } }>(base, readQuery, {}, headers);
    const rows = page.tenants.edges.reduce((n, e) => n + e.node.members.edges.length, 0);

    let counter = 0;
    const unique = () => `${process.pid}-${Date.now().toString(36)}-${counter++}`;
    const scenarios: Array<{ name: string; requests: Request[] }> = [
      { name: 'tenants(first: 50) { members(first: 20) { user role } }', requests: [{ body: JSON.stringify({ query: readQuery }) }] },
      {
        name: 'createTenant',
        requests: [
          {
            setupRequest: (request: Request) => ({
              ...request,
              body: JSON.stringify({ query: 'mutation($n: String!) { createTenant(input: { displayName: $n }) { tenant { id } } }', variables: { n: `Tenant ${unique()}` } }),
            }),
          },
        ],
      },
      {
        name: 'createInvitation',
        requests: [
          {
            setupRequest: (request: Request) => ({
              ...request,
              body: JSON.stringify({
                query: 'mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { invitation { id } } }',
                variables: { input: { tenantId, email: `invitee-${unique()}@bench.test`, role: 'member' } },
              }),
            }),
          },
        ],
      },
    ];
    const results = [];
    for (const scenario of scenarios) {
      const r = await autocannon({ url: `${base}/graphql`, method: 'POST', headers, requests: scenario.requests, connections, duration });
      results.push({ name: scenario.name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors });
    }
    const lines = [
      '## Realm reads and writes',
      '',
      `Run with \`npm run bench:realm-operations\` (PostgreSQL). As the realm admin, ${connections} connections, ${duration} s each. The read is`,
      `the N+1 test's page: 50 tenants × 20 members (${rows} member rows, with user email and role); every write creates a new`,
      'tenant (with its owner membership and `tenant.created` event) or a new invitation (token hashed, event, dev-notifier',
      'message stored) in one transaction. Writes serialise on the event store’s append lock, by design (gapless positions).',
      '',
      `Latest run: ${new Date().toISOString()}, ${machine()}, database ${redactUrl(database.url)}.`,
      '',
      '| Operation | req/s | p50 ms | p99 ms | non-2xx | errors |',
      '|---|---|---|---|---|---|',
      ...results.map((r) => `| \`${r.name}\` | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.non2xx} | ${r.errors} |`),
    ];
    writeSection('realm-operations', lines.join('\n'));
  } finally {
    await server.stop();
    await database.drop();
  }
}

runBench(main);
