import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SignInDocument, SignOutDocument, ViewerDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, claimsOf, signedInUser, uniqueEmail } from '../helpers/auth.js';
import { testDatabaseKind } from '../helpers/database.js';

// REDIS_URL: the credential rate limits and the token denylist in a real Redis
// server (TEST_REDIS_URL, which CI starts). Each database project uses its own
// logical Redis database, so the two projects running at once do not meet.

const redisServer = process.env.TEST_REDIS_URL;
const redisUrl = () => {
  const url = new URL(redisServer!);
  url.pathname = `/${testDatabaseKind === 'postgres' ? 2 : 1}`;
  return url.toString();
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const limits = { AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '3' };

/** A TCP relay to Redis that a test can cut and restore, as a network outage would. */
async function outageRelay(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}${target.pathname}`,
    async cut() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async restore() {
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close: () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
  };
}

describe.runIf(redisServer)('REDIS_URL: rate limits and the denylist in Redis', () => {
  let t: TestApp;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(redisUrl());
    t = await startTestApp({ env: { REDIS_URL: redisUrl(), ...limits } });
  });
  afterAll(async () => {
    await t?.close();
    redis?.disconnect();
  });

  it('two replicas share the count through Redis alone (each on its own database), and no database row is written', async () => {
    const other = await startTestApp({ env: { REDIS_URL: redisUrl(), ...limits } });
    try {
      const email = uniqueEmail('redis-limited');
      const codes = [];
      for (const app of [t, other, t, other]) {
        codes.push((await app.execute(SignInDocument, { input: { email, password: 'wrong-password' } })).body.errors?.[0]?.extensions?.code);
      }
      expect(codes).toEqual(['invalid_credentials', 'invalid_credentials', 'invalid_credentials', 'rate_limited']);
      const key = `idgraph:rl:gql_credentials_id:${email}`;
      expect(await redis.get(key)).toBe('4');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300_000);
      for (const app of [t, other]) {
        expect(await app.app.db.prisma.rateLimit.count()).toBe(0);
      }
    } finally {
      await other.close();
    }
  });

  it('a revocation is in Redis until the token expires and in the database; the request reads status with one SQL statement', async () => {
    const { session } = await signedInUser(t);
    const claims = claimsOf(session.access_token) as { jti: string; exp: number };
    expect((await t.execute(ViewerDocument, {}, bearer(session.access_token))).body.data?.viewer).not.toBeNull();
    expect(await t.countStatements(() => t.execute(ViewerDocument, {}, bearer(session.access_token)))).toBe(1);
    await t.app.revocations.revoke({ jti: claims.jti }, new Date(claims.exp * 1000));
    const expiresAt = await redis.pexpiretime(`idgraph:revoked:jti:${claims.jti}`);
    expect(expiresAt).toBe(claims.exp * 1000);
    expect(await t.app.db.prisma.revokedToken.count({ where: { key: `jti:${claims.jti}` } })).toBe(1);
    const { status, body } = await t.execute(ViewerDocument, {}, bearer(session.access_token));
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('token_revoked');
  });

  it('a sign-out of every session denies the user\'s tokens issued before it, in Redis with its cutoff, and not the ones issued after', async () => {
    const { email, password, session, user } = await signedInUser(t);
    // The sign-out comes in a later second than the token's iat.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await t.app.revocations.revoke({ userId: user.id }, new Date(Date.now() + 3_600_000));
    const cutoff = Number(await redis.get(`idgraph:revoked:usr:${user.id}`));
    expect(cutoff % 1000).toBe(0);
    expect(cutoff).toBeGreaterThan(Number(claimsOf(session.access_token).iat) * 1000);
    expect((await t.execute(ViewerDocument, {}, bearer(session.access_token))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    // A token issued after the sign-out (in its second or later) is not refused.
    const { data } = await authClient(t).signInWithPassword({ email, password });
    expect((await t.execute(ViewerDocument, {}, bearer(data.session!.access_token))).body.data?.viewer).not.toBeNull();
    expect(await t.app.db.prisma.revokedToken.findUnique({ where: { key: `usr:${user.id}` } })).toMatchObject({ notBefore: new Date(cutoff) });
  });

  it('after Redis lost its data, reconnecting puts the live revocations back: a revoked token does not come back to life', async () => {
    const { session } = await signedInUser(t);
    const claims = claimsOf(session.access_token) as { session_id: string; exp: number };
    await t.app.revocations.revoke({ sessionId: claims.session_id }, new Date(claims.exp * 1000));
    // A restart without persistence: the key is gone and idgraph's connection drops.
    await redis.del(`idgraph:revoked:sid:${claims.session_id}`);
    const clients = (await redis.client('LIST')) as string;
    const ours = clients
      .split('\n')
      .filter((line) => / name=idgraph /.test(line) && new RegExp(` db=${new URL(redisUrl()).pathname.slice(1)} `).test(line))
      .map((line) => /id=(\d+)/.exec(line)![1]!);
    expect(ours.length).toBeGreaterThan(0);
    for (const id of ours) await redis.client('KILL', 'ID', id);
    await vi.waitFor(async () => expect(await redis.exists(`idgraph:revoked:sid:${claims.session_id}`)).toBe(1), { timeout: 10_000, interval: 100 });
    expect((await t.execute(ViewerDocument, {}, bearer(session.access_token))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
  });

  it.runIf(testDatabaseKind === 'postgres')('a sign-out on one replica is honoured by another on the same database and Redis', async () => {
    const replica = await startTestApp({ database: { url: t.database.url, drop: async () => {} }, env: { REDIS_URL: redisUrl() } });
    try {
      const { session } = await signedInUser(t);
      expect((await replica.execute(ViewerDocument, {}, bearer(session.access_token))).body.data?.viewer).not.toBeNull();
      const signOut = await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } }, bearer(session.access_token));
      expect(signOut.body.errors).toBeUndefined();
      const claims = claimsOf(session.access_token) as { session_id: string; jti: string };
      expect(await redis.exists(`idgraph:revoked:sid:${claims.session_id}`, `idgraph:revoked:jti:${claims.jti}`)).toBe(2);
      expect((await replica.execute(ViewerDocument, {}, bearer(session.access_token))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    } finally {
      await replica.close();
    }
  });

  it('when Redis stops answering, credential attempts and authenticated requests get 503 unavailable (nothing let through unchecked), and recover with it', async () => {
    const relay = await outageRelay(new URL(redisUrl()));
    const cut = await startTestApp({ env: { REDIS_URL: relay.url, ...limits } });
    try {
      const { session } = await signedInUser(cut);
      const email = uniqueEmail('redis-down');
      await relay.cut();
      const signIn = await cut.execute(SignInDocument, { input: { email, password: 'wrong-password' } });
      // The sign-in ran and its rate limit failed: a field error (200). The viewer's credential check fails before
      // anything runs: the whole request is refused (503).
      expect(signIn.status).toBe(200);
      expect(signIn.body.errors?.[0]?.extensions).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 });
      const viewer = await cut.execute(ViewerDocument, {}, bearer(session.access_token));
      expect(viewer.status).toBe(503);
      expect(viewer.headers.get('retry-after')).toBe('1');
      expect(viewer.body.errors?.[0]?.extensions?.code).toBe('unavailable');
      const ready = await fetch(`${cut.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/^redis: /);
      expect(cut.logs.text()).toContain('Redis unreachable');

      await relay.restore();
      await vi.waitFor(async () => expect((await fetch(`${cut.url}/readyz`)).status).toBe(200), { timeout: 10_000, interval: 100 });
      expect((await cut.execute(ViewerDocument, {}, bearer(session.access_token))).body.data?.viewer).not.toBeNull();
      // The attempt made during the outage was not counted: three more before the limit.
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await cut.execute(SignInDocument, { input: { email, password: 'wrong-password' } })).body.errors?.[0]?.extensions?.code);
      expect(codes).toEqual(['invalid_credentials', 'invalid_credentials', 'invalid_credentials', 'rate_limited']);
    } finally {
      await cut.close();
      await relay.close();
    }
  });

  it('a Redis that does not answer at start-up keeps idgraph not ready, saying so without the password', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = await startTestApp({ env: { REDIS_URL: `redis://:s3cret-pass@127.0.0.1:${port}/1` } });
    try {
      const ready = await fetch(`${down.url}/readyz`);
      expect(ready.status).toBe(503);
      const { reason } = (await ready.json()) as { reason: string };
      expect(reason).toContain(`redis: redis://:***@127.0.0.1:${port}/1 did not answer`);
      expect(reason).not.toContain('s3cret-pass');
      expect(down.logs.text()).not.toContain('s3cret-pass');
    } finally {
      await down.close();
    }
  });
});
