import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createCleanup, realmRetentionRules } from '../../src/services/cleanup.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, uniqueEmail } from '../helpers/auth.js';

// Removal of rows that can no longer serve, against the engine's and idgraph's real tables.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { CLEANUP_INTERVAL_SECONDS: '0' } });
});
afterAll(() => t.close());

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms);
const sql = (text: string, ...values: unknown[]) => t.app.db.prisma.$executeRawUnsafe(text, ...values);

/** A user with a live session, as a sign-up through /auth/v1 leaves them. */
async function signedUp() {
  const email = uniqueEmail('cleanup');
  const { data } = await authClient(t).signUp({ email, password: 'correct-horse-1' });
  const userId = data.user!.id;
  const sessionId = (await t.app.db.prisma.authSession.findFirstOrThrow({ where: { userId } })).id;
  return { email, userId, sessionId };
}

async function session(userId: string, notAfter: Date | null) {
  const id = randomUUID();
  await sql(`INSERT INTO auth_sessions (id, user_id, aal, amr, not_after, created_at, updated_at, refreshed_at) VALUES ($1::uuid, $2::uuid, 'aal1', '[]', $3, now(), now(), now())`, id, userId, notAfter);
  return id;
}

async function refreshToken(user: { userId: string; sessionId: string }, revoked: boolean, updatedAt: Date) {
  const hash = randomUUID();
  await sql(`INSERT INTO auth_refresh_tokens (token_hash, user_id, session_id, revoked, created_at, updated_at) VALUES ($1, $2::uuid, $3::uuid, $4, $5, $5)`, hash, user.userId, user.sessionId, revoked, updatedAt);
  return hash;
}

async function factor(userId: string, status: string, createdAt: Date) {
  const id = randomUUID();
  await sql(`INSERT INTO auth_mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at) VALUES ($1::uuid, $2::uuid, $3, 'totp', $4, $5, $5)`, id, userId, id, status, createdAt);
  return id;
}

const exists = async (table: string, column: string, value: string) =>
  Number(((await t.app.db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(`SELECT count(*) AS n FROM ${table} WHERE ${column}::text = $1`, value))[0]!.n)) === 1;

describe('cleanup of expired rows', () => {
  it('removes what GoTrue removes and idgraph no longer needs, and keeps everything still in use', async () => {
    const user = await signedUp();
    const liveToken = await refreshToken(user, false, ago(30 * 24 * HOUR));
    const rotatedLongAgo = await refreshToken(user, true, ago(25 * HOUR));
    const rotatedRecently = await refreshToken(user, true, ago(HOUR));
    const timeboxEndedLongAgo = await session(user.userId, ago(4 * 24 * HOUR));
    const tokenOfEndedSession = await refreshToken({ userId: user.userId, sessionId: timeboxEndedLongAgo }, false, ago(HOUR));
    const timeboxEndedRecently = await session(user.userId, ago(24 * HOUR));
    const oldFlow = randomUUID();
    const recentFlow = randomUUID();
    for (const [id, at] of [[oldFlow, ago(25 * HOUR)], [recentFlow, ago(HOUR)]] as const) {
      await sql(`INSERT INTO auth_flow_states (id, code_challenge, code_challenge_method, authentication_method, created_at) VALUES ($1::uuid, 'c', 's256', 'magiclink', $2)`, id, at);
    }
    const abandoned = await factor(user.userId, 'unverified', ago(25 * HOUR));
    const enrolling = await factor(user.userId, 'unverified', ago(HOUR));
    const verified = await factor(user.userId, 'verified', ago(90 * 24 * HOUR));
    const oldChallenge = randomUUID();
    await sql(`INSERT INTO auth_mfa_challenges (id, factor_id, ip_address, created_at) VALUES ($1::uuid, $2::uuid, '127.0.0.1', $3)`, oldChallenge, verified, ago(25 * HOUR));
    const staleOtp = randomUUID();
    const liveOtp = randomUUID();
    for (const [id, type, at] of [[staleOtp, 'recovery', ago(25 * HOUR)], [liveOtp, 'confirmation', ago(HOUR)]] as const) {
      await sql(`INSERT INTO auth_one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6)`, id, user.userId, type, randomUUID(), user.email, at);
    }
    const endedWindow = `test:${randomUUID()}`;
    const openWindow = `test:${randomUUID()}`;
    await sql(`INSERT INTO rate_limits (key, points, expire) VALUES ($1, 1, $2), ($3, 1, $4)`, endedWindow, Date.now() - 2 * HOUR, openWindow, Date.now() - 10 * 60_000);
    const expiredDeny = `jti:${randomUUID()}`;
    const liveDeny = `jti:${randomUUID()}`;
    await sql(`INSERT INTO revoked_tokens (key, expires_at) VALUES ($1, $2), ($3, $4)`, expiredDeny, ago(1000), liveDeny, new Date(Date.now() + HOUR));

    const removed = await t.app.cleanup.run();
    expect(removed).toMatchObject({
      auth_refresh_tokens: 1,
      auth_sessions: 1,
      auth_flow_states: 1,
      auth_one_time_tokens: 1,
      auth_mfa_challenges: 1,
      'auth_mfa_factors (unverified)': 1,
      rate_limits: 1,
      revoked_tokens: 1,
    });

    expect(await exists('auth_refresh_tokens', 'token_hash', rotatedLongAgo)).toBe(false);
    expect(await exists('auth_refresh_tokens', 'token_hash', tokenOfEndedSession)).toBe(false);
    expect(await exists('auth_sessions', 'id', timeboxEndedLongAgo)).toBe(false);
    expect(await exists('auth_flow_states', 'id', oldFlow)).toBe(false);
    expect(await exists('auth_mfa_factors', 'id', abandoned)).toBe(false);
    expect(await exists('auth_one_time_tokens', 'id', staleOtp)).toBe(false);
    expect(await exists('auth_mfa_challenges', 'id', oldChallenge)).toBe(false);
    expect(await exists('rate_limits', 'key', endedWindow)).toBe(false);
    expect(await exists('revoked_tokens', 'key', expiredDeny)).toBe(false);

    for (const [table, column, value] of [
      ['auth_refresh_tokens', 'token_hash', liveToken],
      ['auth_refresh_tokens', 'token_hash', rotatedRecently],
      ['auth_sessions', 'id', user.sessionId],
      ['auth_sessions', 'id', timeboxEndedRecently],
      ['auth_flow_states', 'id', recentFlow],
      ['auth_one_time_tokens', 'id', liveOtp],
      ['auth_mfa_factors', 'id', enrolling],
      ['auth_mfa_factors', 'id', verified],
      ['rate_limits', 'key', openWindow],
      ['revoked_tokens', 'key', liveDeny],
    ] as const) {
      expect(await exists(table, column, value), `${table} ${value}`).toBe(true);
    }
    // The user still signs in and refreshes.
    const client = authClient(t);
    expect((await client.signInWithPassword({ email: user.email, password: 'correct-horse-1' })).error).toBeNull();
    expect((await client.refreshSession()).error).toBeNull();
    // A second run finds nothing left to remove.
    expect(await t.app.cleanup.run()).toEqual({});
  });

  it('works in batches: a run removes at most batchSize × maxBatchesPerRun rows per table, the next run the rest', async () => {
    const prefix = `batch:${randomUUID()}`;
    for (let i = 0; i < 5; i++) await sql(`INSERT INTO rate_limits (key, points, expire) VALUES ($1, 1, $2)`, `${prefix}:${i}`, Date.now() - 2 * HOUR);
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    const cleanup = createCleanup({ db: t.app.db.prisma, rules: realmRetentionRules.filter((r) => r.name === 'rate_limits'), clock: Date.now, log, batchSize: 2, maxBatchesPerRun: 2 });
    const left = () => t.app.db.prisma.rateLimit.count({ where: { key: { startsWith: prefix } } });
    expect(await cleanup.run()).toEqual({ rate_limits: 4 });
    expect(await left()).toBe(1);
    expect(await cleanup.run()).toEqual({ rate_limits: 1 });
    expect(await left()).toBe(0);
    // Each run that removed something says how much, per table.
    expect(lines.map((l) => JSON.parse(l) as { msg: string; removed: unknown }).filter((l) => l.msg === 'cleanup removed expired rows').map((l) => l.removed)).toEqual([{ rate_limits: 4 }, { rate_limits: 1 }]);
  });

  it('concurrent runs (two replicas) remove each row once and both finish', async () => {
    const prefix = `replicas:${randomUUID()}`;
    for (let i = 0; i < 20; i++) await sql(`INSERT INTO rate_limits (key, points, expire) VALUES ($1, 1, $2)`, `${prefix}:${i}`, Date.now() - 2 * HOUR);
    const log = createLogger({ level: 'silent' });
    const replica = () => createCleanup({ db: t.app.db.prisma, rules: realmRetentionRules, clock: Date.now, log, batchSize: 3 });
    const [a, b] = await Promise.all([replica().run(), replica().run()]);
    expect((a.rate_limits ?? 0) + (b.rate_limits ?? 0)).toBe(20);
    expect(await t.app.db.prisma.rateLimit.count({ where: { key: { startsWith: prefix } } })).toBe(0);
  });
});
