import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, lastMessage, uniqueEmail } from '../helpers/auth.js';

const site = 'https://site.example.org';
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    env: { AUTH_AUTOCONFIRM: 'false', AUTH_SITE_URL: site, AUTH_URI_ALLOW_LIST: 'https://*.example.com/**, myapp://callback, http://localhost:3000/auth/*' },
  });
});
afterAll(() => t.close());

/** A confirmed account, signed in (sign-ups here need confirming, so that resend and email change send links). */
async function signedInUser() {
  const email = uniqueEmail('redirect');
  const password = 'correct-horse-1';
  const created = await adminClient(t).createUser({ email, password, email_confirm: true });
  if (created.error) throw created.error;
  const client = authClient(t);
  const { error } = await client.signInWithPassword({ email, password });
  if (error) throw error;
  return { email, client };
}

/** Opens a link as a browser would, without following the redirect. */
async function open(url: string) {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location') };
}

/** GET /verify with a made-up token: where a failure is sent for this redirect_to. */
const failedVerify = (redirectTo: string) =>
  open(`${t.url}/auth/v1/verify?token=made-up-token&type=magiclink&redirect_to=${encodeURIComponent(redirectTo)}`);

const fragmentOf = (location: string) => new URLSearchParams(new URL(location).hash.slice(1));

// Each names a host other than the allowed ones, or an allowed host by a way the glob must not accept.
const refused = [
  'https://evil.com?.example.com/',
  'https://evil.com#.example.com/',
  'https://evil.com\\.example.com/',
  'https://evil.com\\@a.example.com/',
  'https://a.example.com@evil.com/',
  'https://a.example.com:secret@evil.com/',
  'https://user@a.example.com/',
  'https://:pw@a.example.com/',
  'https://evil.com/.example.com/',
  'https://evil.com/?x=.example.com/',
  'https://a.example.com.evil.com/',
  'https://a.example.com./',
  'https://evilexample.com/',
  'https://example.com/',
  'https://a.b.example.com/',
  'https://a.example.com:8443/',
  'http://a.example.com/',
  'wss://a.example.com/',
  '//evil.com/',
  '/\\evil.com',
  '\\\\evil.com',
  'evil.com',
  'https://evil.com%23.example.com/',
  'https://evil.com%2F.example.com/',
  'https://evil.com%2e.example.com/',
  'https://evil.com%E3%80%82example.com/',
  'https://evil.com\u3002example.com/',
  'https://evil.com\uff0eexample.com/',
  'https:/evil.com',
  'https:evil.com',
  ' https://a.example.com/',
  'https://a.example.com/\tx',
  'https://a.exa\tmple.com/',
  'https://a.exa\nmple.com/',
  'https://a.example.com/\r\nSet-Cookie: stolen=1',
  `${site}/\r\nSet-Cookie: stolen=1`,
  'https://a.example.com/\u0000',
  'javascript://a.example.com/%0aalert(document.cookie)',
  'javascript:alert(1)//.example.com/',
  'data:text/html,<script>alert(1)</script>',
  'myapp://callback.evil.com',
  'myapp://evil',
  'otherapp://callback',
  'http://localhost:3000/auth/a/b',
  'http://localhost:3001/auth/x',
  'http://site.example.org/',
  'https://site.example.org:444/',
  `https://a.example.com/${'a'.repeat(3000)}`,
];

describe('redirect_to allow list', () => {
  it.each(refused.map((r) => [r.length > 80 ? `${r.slice(0, 60)}… (${r.length} characters)` : r, r]))('refuses %j: a failed link goes to the site URL', async (_name, redirectTo) => {
    const { status, location } = await failedVerify(redirectTo);
    expect(status).toBe(303);
    expect(new URL(location!).origin).toBe(site);
    expect(location!.startsWith(`${site}/#`) || location!.startsWith(`${site}#`)).toBe(true);
    expect(fragmentOf(location!).get('error_code')).toBe('otp_expired');
  });

  it.each([
    ['https://a.example.com/welcome?next=%2Fhome', 'https://a.example.com/welcome?next=%2Fhome#'],
    ['https://a.example.com', 'https://a.example.com/#'],
    ['HTTPS://App-1.EXAMPLE.com/x/y', 'https://app-1.example.com/x/y#'],
    ['https://a.example.com:443/deep/path', 'https://a.example.com/deep/path#'],
    ['https://a.example.com/had#its-own-fragment', 'https://a.example.com/had#'],
    ['https://\uff41.example.com/', 'https://a.example.com/#'],
    ['https://b\u00fccher.example.com/', 'https://xn--bcher-kva.example.com/#'],
    ['https://a.example.com/%0d%0aSet-Cookie:x', 'https://a.example.com/%0d%0aSet-Cookie:x#'],
    ['https://a.example.com/cb/..%2f..%2f', 'https://a.example.com/cb/..%2f..%2f#'],
    [`${site}/any/path`, `${site}/any/path#`],
    ['myapp://callback', 'myapp://callback#'],
    ['http://localhost:3000/auth/callback', 'http://localhost:3000/auth/callback#'],
  ])('allows %j, sending a failure there with the error in the fragment', async (redirectTo, prefix) => {
    const { status, location } = await failedVerify(redirectTo);
    expect(status).toBe(303);
    expect(location!.startsWith(prefix)).toBe(true);
    expect(fragmentOf(location!).get('error_code')).toBe('otp_expired');
  });

  it('a magic link with an attacker redirect_to delivers the tokens to the site URL only', async () => {
    const { email } = await signedInUser();
    expect((await authClient(t).signInWithOtp({ email, options: { emailRedirectTo: 'https://evil.com?.example.com/' } })).error).toBeNull();
    const { link, body } = await lastMessage(t, email);
    expect(body).not.toContain('evil.com');
    const followed = await open(link!);
    expect(new URL(followed.location!).origin).toBe(site);
    expect(fragmentOf(followed.location!).get('access_token')).toBeTruthy();

    // The link's redirect_to swapped for an attacker's: checked again when the link is opened.
    expect((await authClient(t).signInWithOtp({ email })).error).toBeNull();
    const swapped = (await lastMessage(t, email)).link!.replace(/(&redirect_to=[^&]*)?$/, `&redirect_to=${encodeURIComponent('https://a.example.com@evil.com/')}`);
    const opened = await open(swapped);
    expect(new URL(opened.location!).origin).toBe(site);
    expect(fragmentOf(opened.location!).get('access_token')).toBeTruthy();
  });

  it('a magic link with an allowed redirect_to delivers the tokens there, from the parsed URL', async () => {
    const { email } = await signedInUser();
    await authClient(t).signInWithOtp({ email, options: { emailRedirectTo: 'https://app.example.com/after?x=1' } });
    const { link } = await lastMessage(t, email);
    const followed = await open(link!);
    expect(followed.location!.startsWith('https://app.example.com/after?x=1#access_token=')).toBe(true);
  });

  it('CR/LF in redirect_to is never a 500: the request is served and the link falls back to the site URL', async () => {
    const { email } = await signedInUser();
    const sent = await fetch(`${t.url}/auth/v1/otp?redirect_to=${encodeURIComponent('https://a.example.com/\r\nLocation: https://evil.com')}`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    expect(sent.status).toBe(200);
    const { link, body } = await lastMessage(t, email);
    expect(body).not.toContain('evil.com');
    const followed = await open(`${link!}&redirect_to=${encodeURIComponent(`${site}/\r\nSet-Cookie: x=1`)}`);
    expect(followed.status).toBe(303);
    expect(new URL(followed.location!).origin).toBe(site);
  });

  it('PKCE: the code goes to an allowed redirect_to, an attacker target gets the site URL', async () => {
    const pkce = authClient(t, t.apiKeys().anon, 'pkce');
    const { email } = await signedInUser();
    await pkce.signInWithOtp({ email, options: { emailRedirectTo: 'https://evil.com#.example.com/' } });
    const refusedLink = await open((await lastMessage(t, email)).link!);
    expect(new URL(refusedLink.location!).origin).toBe(site);
    expect(new URL(refusedLink.location!).searchParams.get('code')).toBeTruthy();

    await pkce.signInWithOtp({ email, options: { emailRedirectTo: 'https://app.example.com/cb' } });
    const allowedLink = await open((await lastMessage(t, email)).link!);
    expect(allowedLink.location!.startsWith('https://app.example.com/cb?code=')).toBe(true);
  });

  it('recover, resend, user email change, invite and generate_link never carry an attacker target', async () => {
    const evil = 'https://evil.com?.example.com/';
    const { email, client } = await signedInUser();
    await authClient(t).resetPasswordForEmail(email, { redirectTo: evil });
    expect((await lastMessage(t, email)).body).not.toContain('evil.com');

    const unconfirmed = uniqueEmail('resend');
    await fetch(`${t.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json' },
      body: JSON.stringify({ email: unconfirmed, password: 'correct-horse-1' }),
    });
    await authClient(t).resend({ type: 'signup', email: unconfirmed, options: { emailRedirectTo: evil } });
    expect((await lastMessage(t, unconfirmed)).body).not.toContain('evil.com');

    const newEmail = uniqueEmail('changed');
    await client.updateUser({ email: newEmail }, { emailRedirectTo: evil });
    expect((await lastMessage(t, newEmail)).body).not.toContain('evil.com');

    const invited = uniqueEmail('invited');
    await adminClient(t).inviteUserByEmail(invited, { redirectTo: evil });
    expect((await lastMessage(t, invited)).body).not.toContain('evil.com');

    const { data, error } = await adminClient(t).generateLink({ type: 'magiclink', email, options: { redirectTo: evil } });
    expect(error).toBeNull();
    expect(data.properties?.redirect_to).toBe(site);
    expect(data.properties?.action_link).not.toContain('evil.com');
    const allowed = await adminClient(t).generateLink({ type: 'magiclink', email, options: { redirectTo: 'https://app.example.com/x' } });
    expect(allowed.data.properties?.redirect_to).toBe('https://app.example.com/x');
  });
});
