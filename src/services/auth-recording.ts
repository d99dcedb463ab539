import type { AccessTokenResponse, User } from '../identity/types.js';
import type { AuthAnswer, AuthAnswerRecording } from '../server/auth-answer.js';
import type { Recorded, UserMirror } from './user-mirror.js';

/** Grants that prove credentials; a refresh only extends a sign-in already recorded. */
const SIGN_IN_GRANTS = new Set(['password', 'pkce', 'id_token', 'web3']);

/** A service-role caller changing a user (email, phone, metadata) through the admin API. */
const ADMIN_USER = /^\/admin\/users\/[0-9a-fA-F-]{36}$/;

/** The routes whose successful answers idgraph records, by what they may mean (a token answer depends on its grant). */
function recordedRoute(method: string, path: string): 'token' | Recorded | null {
  const route = `${method} ${path}`;
  if (route === 'POST /token') return 'token';
  if (route === 'POST /signup') return 'user.signed_up';
  if (route === 'POST /verify') return 'user.signed_in';
  if (route === 'PUT /user' || (method === 'PUT' && ADMIN_USER.test(path))) return 'user.updated';
  return null;
}

/** What an answer GoTrue gave through /auth/v1 means for idgraph's users table and event log (null: nothing). */
function meaningOf(answer: Pick<AuthAnswer, 'method' | 'path' | 'query'>): Recorded | null {
  const route = recordedRoute(answer.method, answer.path);
  if (route !== 'token') return route;
  return SIGN_IN_GRANTS.has(answer.query.get('grant_type') ?? '') ? 'user.signed_in' : null;
}

/**
 * Mirrors users who sign up, sign in or change their profile through /auth/v1
 * (the embedded engine's, or GoTrue's through the proxy), or whom a service
 * changes through its admin API, with the same events the GraphQL mutations append.
 */
export function createAuthRecording({ mirror }: { mirror: UserMirror }): AuthAnswerRecording {
  return {
    wants: (method: string, path: string) => recordedRoute(method, path) !== null,
    async afterAnswer(answer: AuthAnswer) {
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

