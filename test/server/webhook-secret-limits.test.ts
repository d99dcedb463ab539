import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStandardWebhook } from '../../src/auth/standard-webhooks.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { gotrueEnv, hookSecret } from '../helpers/gotrue.js';

// Failed shared-secret and signature checks on the sync and hook routes count per IP: once over
// AUTH_RATE_LIMIT_CREDENTIALS_PER_IP, the address is refused before any check, right secret included,
// so a guesser cannot tell a right guess from a wrong one.

const syncSecret = 'q'.repeat(40);
const allowedFailures = 3;

describe('the sync routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { SYNC_WEBHOOK_SECRET: syncSecret, AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: String(allowedFailures) } });
  });
  afterAll(() => t.close());

  const sync = (path: string, secret: string) =>
    fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-webhook-secret': secret }, body: '{}' });

  it('answers the right secret while failures stay under the limit, then refuses every attempt from the address', async () => {
    for (let i = 0; i < allowedFailures - 1; i += 1) expect((await sync('/v1/sync/user', `wrong-${i}`)).status).toBe(401);
    // Still under: the right secret gets to the body check (an empty object is not a sync payload).
    expect((await sync('/v1/sync/user', syncSecret)).status).toBe(400);
    expect((await sync('/v1/sync/api-key', 'wrong-last')).status).toBe(401);

    const guess = await sync('/v1/sync/api-key', 'wrong-again');
    expect(guess.status).toBe(429);
    const right = await sync('/v1/sync/user', syncSecret);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await right.json()).toMatchObject({ code: 429, error_code: 'rate_limited' });
    expect((await sync('/v1/sync/backfill-api-keys', syncSecret)).status).toBe(429);
  });
});

describe('the custom access token hook', () => {
  let upstream: TestApp;
  let hooked: TestApp;
  const secret = hookSecret();
  beforeAll(async () => {
    upstream = await startTestApp();
    hooked = await startTestApp({ env: gotrueEnv(upstream, { GOTRUE_HOOK_SECRET: secret, AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: String(allowedFailures) }) });
  });
  afterAll(async () => {
    await hooked.close();
    await upstream.close();
  });

  const hook = (signingSecret: string) => {
    const body = JSON.stringify({ user_id: crypto.randomUUID() });
    return fetch(`${hooked.url}/hooks/custom-access-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signStandardWebhook({ secret: signingSecret, id: 'msg_1', body, now: Date.now() }) },
      body,
    });
  };

  it('refuses a rightly signed call once the address has failed too often', async () => {
    // A right signature on a payload without claims is refused for the payload, not the signature.
    expect((await hook(secret)).status).toBe(400);
    for (let i = 0; i < allowedFailures; i += 1) expect((await hook(hookSecret())).status).toBe(401);
    const right = await hook(secret);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await right.json()).toEqual({ error: { http_code: 429, message: 'too many failed signature checks' } });
  });
});
