import { AuthClient, type Session } from '@supabase/auth-js';
import type { TestApp } from './app.js';

/** In-memory storage so each client keeps its own session, as a browser tab would. */
function memoryStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
}

/** A real @supabase/auth-js client of the app's /auth/v1, with the anon key as supabase-js sends it. */
export function authClient(t: TestApp, key = t.apiKeys().anon, flowType: 'implicit' | 'pkce' = 'implicit') {
  return new AuthClient({
    url: `${t.url}/auth/v1`,
    headers: { apikey: key, Authorization: `Bearer ${key}` },
    flowType,
    storage: memoryStorage(),
    persistSession: true,
    autoRefreshToken: false,
    detectSessionInUrl: false,
  });
}

/** The admin API with the service-role key. */
export function adminClient(t: TestApp) {
  return authClient(t, t.apiKeys().serviceRole).admin;
}

let counter = 0;
export const uniqueEmail = (tag = 'user') => `${tag}-${Date.now()}-${counter++}@example.com`;

/** The newest message the dev notifier stored for a recipient, and the code in it. */
export async function lastMessage(t: TestApp, recipient: string) {
  // Codes requested by address are sent after the answer.
  await t.app.engine?.settled();
  const message = await t.app.db.prisma.authMessage.findFirst({ where: { recipient }, orderBy: { createdAt: 'desc' } });
  if (!message) throw new Error(`no message for ${recipient}`);
  // Links carry PUBLIC_URL (localhost:4000 by default); the test server listens on a random port.
  const link = /(http\S+\/verify\S+)/.exec(message.body)?.[1]?.replace(/^https?:\/\/[^/]+/, t.url) ?? null;
  return { ...message, code: /code is (\d+)/.exec(message.body)?.[1] ?? null, link };
}

export async function signedInUser(t: TestApp, password = 'correct-horse-1') {
  const client = authClient(t);
  const email = uniqueEmail();
  const { data, error } = await client.signUp({ email, password });
  if (error || !data.session) throw error ?? new Error('no session from sign-up');
  return { client, email, password, session: data.session as Session, user: data.user! };
}

/** Decodes a JWT payload without verifying it (tests compare claims). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
