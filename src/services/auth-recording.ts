import { decodeJwt } from 'jose';
import type { RevocationList } from '../auth/revocation.js';
import type { LogoutScope } from '../identity/provider.js';
import type { AccessTokenResponse, User } from '../identity/types.js';
import type { AuthAnswer, AuthAnswerRecording } from '../server/auth-answer.js';
import type { Recorded, UserMirror } from './user-mirror.js';

/** Grants that prove credentials; a refresh only extends a sign-in already recorded. */
const SIGN_IN_GRANTS = new Set(['password', 'pkce', 'id_token', 'web3']);

/** A service-role caller changing a user (email, phone, metadata) through the admin API. */
const ADMIN_USER = /^\/admin\/users\/[0-9a-fA-F-]{36}$/;

/** The routes whose successful answers idgraph records, by what they may mean (a token answer depends on its grant). */
function recordedRoute(method: string, path: string): 'token' | 'logout' | Recorded | null {
  const route = `${method} ${path}`;
  if (route === 'POST /token') return 'token';
  if (route === 'POST /logout') return 'logout';
  if (route === 'POST /signup') return 'user.signed_up';
  if (route === 'POST /verify') return 'user.signed_in';
  if (route === 'PUT /user' || (method === 'PUT' && ADMIN_USER.test(path))) return 'user.updated';
  return null;
}

/** What an answer GoTrue gave through /auth/v1 means for idgraph's users table and event log (null: nothing). */
function meaningOf(answer: Pick<AuthAnswer, 'method' | 'path' | 'query'>): Recorded | null {
  const route = recordedRoute(answer.method, answer.path);
  if (route === 'logout') return null;
  if (route !== 'token') return route;
  return SIGN_IN_GRANTS.has(answer.query.get('grant_type') ?? '') ? 'user.signed_in' : null;
}

/**
 * Mirrors users who sign up, sign in or change their profile through /auth/v1
 * (the embedded engine's, or GoTrue's through the proxy), or whom a service
 * changes through its admin API, with the same events the GraphQL mutations append.
 *
 * With `endedSessions` (in front of GoTrue, whose sessions idgraph cannot see),
 * a sign-out through /auth/v1 goes on idgraph's denylist as GraphQL signOut
 * does: the signed-out session, and for scope global every token of the user
 * issued until then. GoTrue accepted the token (2xx), so its claims are read
 * without verifying it again. Scope `others` ends sessions whose ids are
 * GoTrue's: their tokens stay valid here until they expire, as they do for any
 * backend that verifies GoTrue's tokens.
 */
export function createAuthRecording({ mirror, endedSessions = null }: { mirror: UserMirror; endedSessions?: RevocationList | null }): AuthAnswerRecording {
  async function signedOut(answer: AuthAnswer) {
    if (!endedSessions || !answer.bearer) return;
    const claims = decodeJwt(answer.bearer) as { sub?: string; session_id?: string; jti?: string; exp?: number; iat?: number };
    if (!claims.sub || !claims.exp) return;
    // GoTrue's default scope is global.
    const scope = (answer.query.get('scope') ?? 'global') as LogoutScope;
    await endedSessions.signOut(scope, {
      userId: claims.sub,
      sessionId: claims.session_id ?? null,
      jti: claims.jti ?? null,
      expiresAt: new Date(claims.exp * 1000),
      lifetimeSeconds: claims.exp - (claims.iat ?? claims.exp),
    });
  }

  return {
    wants: (method: string, path: string) => {
      const route = recordedRoute(method, path);
      return route === 'logout' ? endedSessions !== null : route !== null;
    },
    async afterAnswer(answer: AuthAnswer) {
      if (recordedRoute(answer.method, answer.path) === 'logout') return signedOut(answer);
      const type = meaningOf(answer);
      if (!type || !answer.body || typeof answer.body !== 'object') return;
      const body = answer.body as Partial<AccessTokenResponse> & Partial<User>;
      // A sign-up that waits for confirmation answers a bare user, possibly an obfuscated one for a taken
      // address: only a session proves the account (the confirmation's /verify records it later).
      const user = body.access_token ? body.user : type === 'user.updated' ? (body as User) : undefined;
      if (!user?.id) return;
      // Through the admin API the change is not the user's own: no actor (the service role holds no user id).
      const actorId = answer.path.startsWith('/admin/') ? null : user.id;
      await mirror.record(user, type, { actorId, requestId: answer.meta.requestId, ip: answer.meta.ip });
    },
  };
}
