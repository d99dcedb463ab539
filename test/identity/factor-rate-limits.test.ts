import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { claimsOf, signedInUser } from '../helpers/auth.js';

// /auth/v1/factors/{id}/challenge and /verify count per factor and per user, as
// GraphQL's challengeFactor and verifyFactor do (AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER).
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '4' } });
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.app.db.prisma.rateLimit.deleteMany();
});

const totpCode = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();

async function userWithFactors(count: number) {
  const signed = await signedInUser(t);
  const factors = [];
  for (let i = 0; i < count; i++) {
    const { data, error } = await signed.client.mfa.enroll({ factorType: 'totp', friendlyName: `app ${i}` });
    if (error || !data) throw error;
    factors.push({ id: data.id, secret: (data as { totp: { secret: string } }).totp.secret });
  }
  const call = async (path: string, body: Record<string, unknown> = {}) => {
    const res = await fetch(`${t.url}/auth/v1/factors/${path}`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, authorization: `Bearer ${signed.session.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { id?: string; error_code?: string; access_token?: string }, retryAfter: res.headers.get('retry-after') };
  };
  return { ...signed, factors, call };
}

describe('/auth/v1 factor verification is rate-limited', () => {
  it('wrong codes under any spelling of the id share the factor\'s bucket, and the right code is then refused', async () => {
    const { factors, call, client } = await userWithFactors(1);
    const { id, secret } = factors[0]!;
    const challenge = await call(`${id}/challenge`);
    expect(challenge.status).toBe(200);
    const wrong = (path: string) => call(`${path}/verify`, { challenge_id: challenge.body.id, code: '000000' });
    expect((await wrong(id.toUpperCase())).body.error_code).toBe('mfa_verification_failed');
    expect((await wrong(encodeURIComponent(`{${id}}`))).body.error_code).toBe('mfa_verification_failed');
    expect((await wrong(id.replace(/-/g, ''))).body.error_code).toBe('mfa_verification_failed');
    const right = await call(`${id}/verify`, { challenge_id: challenge.body.id, code: totpCode(secret) });
    expect(right.status).toBe(429);
    expect(right.body.error_code).toBe('over_request_rate_limit');
    expect(Number(right.retryAfter)).toBeGreaterThan(0);
    expect(right.body.access_token).toBeUndefined();
    const { data } = await client.getUser();
    expect(data.user?.factors?.map((factor) => factor.status)).toEqual(['unverified']);
  });

  it('counts per user too: attempts spread over two factors are refused once the user is over the limit', async () => {
    const { factors, call, session } = await userWithFactors(2);
    const [a, b] = factors as [{ id: string; secret: string }, { id: string; secret: string }];
    const challengeA = (await call(`${a.id}/challenge`)).body.id;
    const challengeB = (await call(`${b.id}/challenge`)).body.id;
    expect((await call(`${a.id}/verify`, { challenge_id: challengeA, code: '000000' })).status).toBe(422);
    expect((await call(`${b.id}/verify`, { challenge_id: challengeB, code: '000000' })).status).toBe(422);
    // Each factor has 2 of its 4 attempts left; the user has none.
    const right = await call(`${a.id}/verify`, { challenge_id: challengeA, code: totpCode(a.secret) });
    expect(right.status).toBe(429);
    expect(claimsOf(session.access_token).aal).toBe('aal1');
  });

  it('an id that is not a UUID is 404 validation_failed (as GoTrue), never a 5xx', async () => {
    const { factors, call } = await userWithFactors(1);
    const hex = factors[0]!.id.replace(/-/g, '');
    for (const path of ['not-a-uuid', '-'.repeat(36), hex.match(/.{4}/g)!.join('-'), '%E0%A4%A', `${hex}0`]) {
      for (const action of ['challenge', 'verify']) {
        const res = await call(`${path}/${action}`, { challenge_id: '00000000-0000-0000-0000-000000000000', code: '000000' });
        expect([res.status, res.body.error_code], `${path}/${action}`).toEqual([404, 'validation_failed']);
      }
    }
  });
});
