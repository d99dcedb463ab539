import { AuthClient } from '@supabase/auth-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { claimsOf, lastMessage, signedInUser, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

function pkceClient() {
  const items = new Map<string, string>();
  return new AuthClient({
    url: `${t.url}/auth/v1`,
    headers: { apikey: t.apiKeys().anon, Authorization: `Bearer ${t.apiKeys().anon}` },
    flowType: 'pkce',
    storage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k) },
    autoRefreshToken: false,
    detectSessionInUrl: false,
  });
}

async function codeFromLink(email: string) {
  const { link } = await lastMessage(t, email);
  expect(link).toContain('token=pkce_');
  const res = await fetch(link!, { redirect: 'manual' });
  expect(res.status).toBe(303);
  return new URL(res.headers.get('location')!).searchParams.get('code');
}

describe('auth-js PKCE flow', () => {
  it('magic link → ?code= → exchangeCodeForSession (amr magiclink); the code works once', async () => {
    const { email } = await signedInUser(t);
    const client = pkceClient();
    expect((await client.signInWithOtp({ email })).error).toBeNull();
    const code = await codeFromLink(email);
    expect(code).toMatch(/^[0-9a-f-]{36}$/);
    const { data, error } = await client.exchangeCodeForSession(code!);
    expect(error).toBeNull();
    expect((claimsOf(data.session!.access_token).amr as Array<{ method: string }>)[0]!.method).toBe('magiclink');
    const again = await pkceClient().exchangeCodeForSession(code!);
    expect(again.error).toBeTruthy();
  });

  it('a wrong verifier is bad_code_verifier', async () => {
    const { email } = await signedInUser(t);
    const client = pkceClient();
    await client.resetPasswordForEmail(email);
    const code = await codeFromLink(email);
    const res = await fetch(`${t.url}/auth/v1/token?grant_type=pkce`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json' },
      body: JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(50) }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_code: string }).error_code).toBe('bad_code_verifier');
  });

  it('an unknown auth code is flow_state_not_found', async () => {
    const res = await fetch(`${t.url}/auth/v1/token?grant_type=pkce`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json' },
      body: JSON.stringify({ auth_code: crypto.randomUUID(), code_verifier: 'x'.repeat(50) }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error_code: string }).error_code).toBe('flow_state_not_found');
  });

  it('a typed OTP still signs in directly in a PKCE client', async () => {
    const email = uniqueEmail('pkce-otp');
    const client = pkceClient();
    await client.signInWithOtp({ email });
    const { code } = await lastMessage(t, email);
    expect((await client.verifyOtp({ email, token: code!, type: 'email' })).error).toBeNull();
  });
});
