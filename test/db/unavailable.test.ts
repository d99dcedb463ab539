import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, uniqueEmail } from '../helpers/auth.js';
import { createPostgresDatabase, testDatabaseKind } from '../helpers/database.js';
import { signUpUser } from '../helpers/realm.js';

// A database that does not answer in time: callers get 503 unavailable with a retry-after instead of a masked 500.

let t: TestApp;
beforeAll(async () => {
  // One pooled connection and a short wait for it, so the test can take the pool away.
  t = await startTestApp({ env: { DATABASE_POOL_SIZE: '1', DATABASE_CONNECT_TIMEOUT_MS: '300' } });
});
afterAll(() => t.close());

describe('database unavailable', () => {
  it('recognises a transaction that outlived its timeout, and nothing else', async () => {
    const expired = await t.app.db.prisma
      .$transaction(async (tx) => {
        await tx.$queryRaw`SELECT 1`;
        await new Promise((r) => setTimeout(r, 300));
      }, { timeout: 100 })
      .catch((error: unknown) => error);
    expect(isDatabaseUnavailable(expired)).toBe(true);
    const duplicate = await t.app.db.prisma.$executeRaw`INSERT INTO rate_limits (key, points) VALUES ('dup', 1), ('dup', 1)`.catch((e: unknown) => e);
    expect(isDatabaseUnavailable(duplicate)).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }))).toBe(true);
  });

  it.runIf(testDatabaseKind === 'postgres')('no free connection in time: GraphQL and /auth/v1 answer 503 with a retry-after, then serve again', async () => {
    const email = uniqueEmail('unavailable');
    const signUp = await authClient(t).signUp({ email, password: 'correct-horse-1' });
    const token = signUp.data.session!.access_token;
    const viewer = () =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ viewer { userId } }' }),
      });
    const signIn = () =>
      fetch(`${t.url}/auth/v1/token?grant_type=password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: t.app.engine!.apiKeys().anon },
        body: JSON.stringify({ email, password: 'correct-horse-1' }),
      });

    // A transaction holds the only connection for 1.5 s.
    const holding = t.app.db.prisma.$transaction((tx) => tx.$executeRaw`SELECT pg_sleep(1.5)`, { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const [graphql, rest] = await Promise.all([viewer(), signIn()]);
    expect(graphql.status).toBe(503);
    const body = (await graphql.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 });
    expect(body.errors[0]!.message).toMatch(/retry shortly/);
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('1');
    expect(await rest.json()).toMatchObject({ error_code: 'unexpected_failure' });
    await holding;

    expect((await viewer()).status).toBe(200);
    expect((await signIn()).status).toBe(200);
  });
});

/** A TCP relay to PostgreSQL that a test can cut (every connection dropped, new ones refused) and restore. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    async cut() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    restore: () => listen(port),
    close: () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
  };
}

describe.runIf(testDatabaseKind === 'postgres')('a PostgreSQL outage', () => {
  it('GraphQL answers 503 unavailable like /auth/v1, raw queries through the driver adapter included, then serves again', async () => {
    const database = await createPostgresDatabase();
    const url = new URL(database.url);
    const relay = await startRelay({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(relay.port);
    const app = await startTestApp({ database: { url: url.toString(), drop: async () => {} }, env: { DATABASE_CONNECT_TIMEOUT_MS: '300' } });
    try {
      const user = await signUpUser(app);
      const graphql = (query: string, variables: Record<string, unknown> = {}) =>
        fetch(`${app.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...user.headers },
          body: JSON.stringify({ query, variables }),
        });
      const signIn = 'mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }';
      const requests = () => [
        // The viewer's token state and status are read with raw SQL on every authenticated request.
        graphql('{ viewer { userId } }'),
        graphql(signIn, { i: { email: user.email, password: user.password } }),
        fetch(`${app.url}/auth/v1/token?grant_type=password`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', apikey: app.apiKeys().anon },
          body: JSON.stringify({ email: user.email, password: user.password }),
        }),
      ];

      await relay.cut();
      const answers = await Promise.all(requests());
      for (const [index, answer] of answers.entries()) {
        const body = (await answer.json()) as { errors?: Array<{ extensions: Record<string, unknown> }>; error_code?: string };
        expect(answer.status, `request ${index}: ${JSON.stringify(body)}`).toBe(503);
        if (body.errors) expect(body.errors[0]!.extensions).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 });
      }
      expect(app.logs.lines.filter((line) => line.msg === 'unexpected error in a resolver')).toEqual([]);

      await relay.restore();
      for (const answer of await Promise.all(requests())) expect(answer.status).toBe(200);
    } finally {
      await app.close();
      await relay.close();
      await database.drop();
    }
  });
});
