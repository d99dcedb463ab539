import autocannon from 'autocannon';
import { createBenchDatabase, graphql, fmt, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// The same authenticated GraphQL request (viewer plus a permission-checked
// tenant read) with `Authorization: ApiKey <key>`, with `Bearer <access token>`
// of the key's owner, and with `Bearer <platform token>` from exchangeApiKey.
// PostgreSQL when BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL names a
// server (a fresh database is created on it), otherwise in-memory PGlite.

const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;


async function main() {
  const database = serverUrl ? await createBenchDatabase(serverUrl) : { url: 'memory://', drop: async () => {} };
  const server = await startProcess(['src/main.ts'], idgraphEnv(database.url));
  try {
    const base = `http://127.0.0.1:${server.port}`;
    // The bootstrap realm admin owns the base admin tenant: sign-in gives a token scoped to it.
    const email = /email:\s+(\S+)/.exec(server.output())![1]!;
    const password = /password:\s+(\S+)/.exec(server.output())![1]!;
    const signIn = await graphql<{ signIn: { session: { accessToken: string }; tenants: Array<{ id: string }> } }>(
      base,
      'mutation($input: SignInInput!) { signIn(input: $input) { session { accessToken } tenants { id } } }',
      { input: { email, password } },
    );
    const tenantId = signIn.signIn.tenants[0]!.id;
    const accessToken = signIn.signIn.session.accessToken;
    const created = await graphql<{ createApiKey: { key: string } }>(
      base,
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
      { input: { tenantId, displayName: 'bench', scopes: ['tenant:read', 'apikeys:manage'] } },
      { authorization: `Bearer ${accessToken}` },
    );
    const key = created.createApiKey.key;
    // Platform tokens live five minutes: each round takes a fresh one.
    const platformToken = async () =>
      (
        await graphql<{ exchangeApiKey: { accessToken: string } }>(
          base,
          'mutation($key: String!) { exchangeApiKey(input: { key: $key }) { accessToken } }',
          { key },
        )
      ).exchangeApiKey.accessToken;

    const query = 'query($id: ID!) { viewer { userId activeTenant { id displayName } } apiKeys(tenantId: $id, first: 5) { edges { node { id prefix } } } }';
    const body = JSON.stringify({ query, variables: { id: tenantId } });
    const callers = {
      'ApiKey <key>': `ApiKey ${key}`,
      'Bearer <access token>': `Bearer ${accessToken}`,
      'Bearer <platform token>': `Bearer ${await platformToken()}`,
    };
    // Each caller must get the same answer, or the comparison means nothing.
    const answers = new Set<string>();
    for (const authorization of Object.values(callers)) {
      const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });
      answers.add(await response.text());
    }
    if (answers.size !== 1) throw new Error(`the callers get different answers:\n${[...answers].join('\n')}`);

    // Rounds in rotating order, so a load spike on a shared machine does not land on one caller only.
    const names = Object.keys(callers) as Array<keyof typeof callers>;
    const runs = new Map<string, Array<Awaited<ReturnType<typeof autocannon>>>>(names.map((name) => [name, []]));
    const run = (name: keyof typeof callers, seconds: number) =>
      autocannon({
        url: `${base}/graphql`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: callers[name] },
        body,
        connections,
        duration: seconds,
      });
    for (const name of names) await run(name, 2); // warm-up
    for (let round = 0; round < rounds; round++) {
      callers['Bearer <platform token>'] = `Bearer ${await platformToken()}`;
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length]!;
        runs.get(name)!.push(await run(name, duration));
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const results = Object.fromEntries(
      names.map((name) => {
        const r = runs.get(name)!;
        return [
          name,
          {
            rps: mean(r.map((x) => x.requests.average)),
            p50: mean(r.map((x) => x.latency.p50)),
            p99: mean(r.map((x) => x.latency.p99)),
            non2xx: r.reduce((n, x) => n + x.non2xx, 0),
          },
        ];
      }),
    );
    const apiKey = results['ApiKey <key>']!;
    const bearer = results['Bearer <access token>']!;
    const lines = [
      '## Machine callers: API key against access token',
      '',
      'Run with `npm run bench:realm` (PostgreSQL when `BENCH_DATABASE_URL`, `TEST_DATABASE_URL` or `DATABASE_URL` is set, else',
      `in-memory PGlite; \`BENCH_DURATION\`, \`BENCH_ROUNDS\`, \`BENCH_CONNECTIONS\`). \`${query}\` as the bootstrap admin in its tenant,`,
      `${connections} connections; ${rounds} rounds of ${duration} s per caller in rotating order after a 2 s warm-up, figures are`,
      'the means over the rounds. All three callers get byte-identical answers.',
      'The key row is cached for 5 s (`API_KEY_CACHE_MS`), so a warm API-key request skips the lookup a Bearer',
      'request spends on its revocation and user-status check, but not the SHA-256 compare. Goal: bearer / api-key ≤ 1.2.',
      '',
      `Latest run: ${new Date().toISOString()}, ${machine()}, database ${redactUrl(database.url)}.`,
      '',
      '| Authorization | req/s | p50 ms | p99 ms | non-2xx |',
      '|---|---|---|---|---|',
      ...Object.entries(results).map(([name, r]) => `| \`${name}\` | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.non2xx} |`),
      '',
      `bearer req/s ÷ api-key req/s: **${(bearer.rps / apiKey.rps).toFixed(2)}**`,
    ];
    writeSection('realm', lines.join('\n'));
  } finally {
    await server.stop();
    await database.drop();
  }
}

runBench(main);
