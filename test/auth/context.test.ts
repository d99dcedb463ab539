import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ViewerDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, signedInUser } from '../helpers/auth.js';
import { testDatabaseKind } from '../helpers/database.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('request context: the viewer from a Bearer token', () => {
  it('anonymous requests have no viewer', async () => {
    const { body } = await t.execute(ViewerDocument);
    expect(body).toEqual({ data: { viewer: null } });
  });

  it('a valid access token gives the viewer its user, session, aal and expiry', async () => {
    const { session, user } = await signedInUser(t);
    const { body } = await t.execute(ViewerDocument, {}, bearer(session.access_token));
    expect(body.errors).toBeUndefined();
    expect(body.data?.viewer).toMatchObject({ userId: user.id, aal: 'AAL1', mfaAt: null });
    expect(body.data?.viewer?.sessionId).toEqual(expect.any(String));
    expect(new Date(body.data!.viewer!.expiresAt).getTime() / 1000).toBe(session.expires_at);
  });

  it('a header that is not a Bearer token is malformed; a forged token bad_signature (401, no data)', async () => {
    const basic = await t.execute(ViewerDocument, {}, { authorization: 'Basic YWRhOnB3' });
    expect(basic.status).toBe(401);
    expect(basic.body.errors?.[0]?.extensions?.code).toBe('malformed');
    const { session } = await signedInUser(t);
    const [h, p] = session.access_token.split('.');
    const forged = await t.execute(ViewerDocument, {}, bearer(`${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`));
    expect(forged.body.errors?.[0]?.extensions?.code).toBe('bad_signature');
    expect(forged.body.data ?? null).toBeNull();
  });

  it('a revoked session is token_revoked until the token would have expired', async () => {
    const { session } = await signedInUser(t);
    const claims = JSON.parse(Buffer.from(session.access_token.split('.')[1]!, 'base64url').toString()) as { session_id: string; exp: number };
    await t.app.revocations.revoke({ sessionId: claims.session_id }, new Date(claims.exp * 1000));
    const { status, body } = await t.execute(ViewerDocument, {}, bearer(session.access_token));
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('token_revoked');
  });

  it('a sign-out through /auth/v1 ends the session for GraphQL too: its tokens are token_revoked, other sessions unaffected unless global', async () => {
    const first = await signedInUser(t);
    const second = authClient(t);
    const { data } = await second.signInWithPassword({ email: first.email, password: first.password });
    const secondToken = data.session!.access_token;
    await first.client.signOut({ scope: 'local' });
    const local = await t.execute(ViewerDocument, {}, bearer(first.session.access_token));
    expect(local.status).toBe(401);
    expect(local.body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    expect((await t.execute(ViewerDocument, {}, bearer(secondToken))).body.data?.viewer?.userId).toBe(first.user.id);
    await second.signOut({ scope: 'global' });
    expect((await t.execute(ViewerDocument, {}, bearer(secondToken))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
  });

  it('checking the denylist costs one SQL statement per request', async () => {
    const { session } = await signedInUser(t);
    const statements = await t.countStatements(() => t.execute(ViewerDocument, {}, bearer(session.access_token)));
    expect(statements).toBe(1);
  });

  it.runIf(testDatabaseKind === 'postgres')('a revocation on one replica is honoured by another on the same database', async () => {
    const replica = await startTestApp({ database: { url: t.database.url, drop: async () => {} } });
    try {
      // Both replicas must trust the same keys: the second one loaded them from the shared database.
      const { session } = await signedInUser(t);
      expect((await replica.execute(ViewerDocument, {}, bearer(session.access_token))).body.data?.viewer).not.toBeNull();
      const claims = JSON.parse(Buffer.from(session.access_token.split('.')[1]!, 'base64url').toString()) as { jti: string; exp: number };
      await t.app.revocations.revoke({ jti: claims.jti }, new Date(claims.exp * 1000));
      const { body } = await replica.execute(ViewerDocument, {}, bearer(session.access_token));
      expect(body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    } finally {
      await replica.close();
    }
  });
});

describe('graphql-ws: the viewer from connectionParams', () => {
  function query(authorization?: string) {
    const client = createClient({ url: t.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: authorization ? { authorization } : {} });
    return new Promise<{ data?: unknown; closeCode?: number; errors?: unknown }>((resolve) => {
      let data: unknown;
      client.on('closed', (event) => {
        const code = (event as { code?: number }).code;
        if (code && code !== 1000) resolve({ closeCode: code });
      });
      client.subscribe(
        { query: '{ viewer { userId aal } }' },
        {
          next: (value) => (data = value.data),
          error: (error) => resolve(Array.isArray(error) ? { errors: error } : { closeCode: (error as { code?: number }).code }),
          complete: () => {
            resolve({ data });
            void client.dispose();
          },
        },
      );
    });
  }

  it('an authenticated operation over a real WebSocket sees the viewer', async () => {
    const { session, user } = await signedInUser(t);
    expect(await query(`Bearer ${session.access_token}`)).toEqual({ data: { viewer: { userId: user.id, aal: 'AAL1' } } });
  });

  it('anonymous sockets are allowed and see no viewer', async () => {
    expect(await query()).toEqual({ data: { viewer: null } });
  });

  it('a token that does not verify closes the connection with 4403', async () => {
    expect(await query('Bearer not-a-token')).toEqual({ closeCode: 4403 });
  });
});

describe('user status', () => {
  it('a suspended user is refused on the next request and at sign-in; reactivation restores access', async () => {
    const { SignInDocument } = await import('../generated/graphql.js');
    const { session, user, email, password } = await signedInUser(t);
    const { body: first } = await t.execute(SignInDocument, { input: { email, password } });
    expect(first.errors).toBeUndefined();
    await t.app.db.prisma.user.update({ where: { id: user.id }, data: { status: 'suspended' } });
    const next = await t.execute(ViewerDocument, {}, bearer(session.access_token));
    expect(next.status).toBe(403);
    expect(next.body.errors?.[0]?.extensions?.code).toBe('account_suspended');
    const sessionsBefore = await t.app.db.prisma.authSession.count({ where: { userId: user.id } });
    const refused = await t.execute(SignInDocument, { input: { email, password } });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('account_suspended');
    // The session the provider opened for the refused sign-in was closed again.
    expect(await t.app.db.prisma.authSession.count({ where: { userId: user.id } })).toBe(sessionsBefore);
    await t.app.db.prisma.user.update({ where: { id: user.id }, data: { status: 'deactivated' } });
    expect((await t.execute(ViewerDocument, {}, bearer(session.access_token))).body.errors?.[0]?.extensions?.code).toBe('account_deactivated');
    await t.app.db.prisma.user.update({ where: { id: user.id }, data: { status: 'active' } });
    expect((await t.execute(ViewerDocument, {}, bearer(session.access_token))).body.data?.viewer?.userId).toBe(user.id);
  });
});
