import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, claimsOf, signedInUser } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const codeFor = (secret: string, offsetSeconds = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSeconds * 1000,
  });

async function enrolledUser() {
  const signed = await signedInUser(t);
  const { data, error } = await signed.client.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
  if (error || !data) throw error;
  return { ...signed, factorId: data.id, secret: (data as { totp: { secret: string } }).totp.secret, enrolled: data };
}

describe('auth-js: TOTP MFA', () => {
  it('enroll returns a base32 secret, an otpauth URI and an SVG QR code', async () => {
    const { enrolled, email } = await enrolledUser();
    const totp = (enrolled as { totp: { secret: string; uri: string; qr_code: string } }).totp;
    expect(totp.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(totp.uri).toMatch(/^otpauth:\/\/totp\//);
    expect(totp.uri).toContain(encodeURIComponent(email));
    expect(totp.uri).toContain('algorithm=SHA1&digits=6&period=30');
    expect(totp.qr_code).toMatch(/^data:image\/svg\+xml;utf-8,<svg/);
  });

  it('challenge + verify raises the session to aal2 with amr totp and mfa_at; AAL reads it', async () => {
    const { client, factorId, secret } = await enrolledUser();
    const challenge = await client.mfa.challenge({ factorId });
    expect(challenge.error).toBeNull();
    const { data, error } = await client.mfa.verify({ factorId, challengeId: challenge.data!.id, code: codeFor(secret) });
    expect(error).toBeNull();
    const claims = claimsOf(data!.access_token);
    expect(claims.aal).toBe('aal2');
    expect((claims.amr as Array<{ method: string }>).map((a) => a.method)).toEqual(['totp', 'password']);
    expect(claims.mfa_at).toEqual(expect.any(Number));
    const aal = await client.mfa.getAuthenticatorAssuranceLevel();
    expect(aal.data).toMatchObject({ currentLevel: 'aal2', nextLevel: 'aal2' });
    const factors = await client.mfa.listFactors();
    expect(factors.data?.totp.map((f) => f.id)).toEqual([factorId]);
  });

  it('a wrong code is mfa_verification_failed; a used challenge cannot be replayed', async () => {
    const { client, factorId, secret } = await enrolledUser();
    const challenge = await client.mfa.challenge({ factorId });
    const wrong = await client.mfa.verify({ factorId, challengeId: challenge.data!.id, code: codeFor(secret, 600) });
    expect(wrong.error).toMatchObject({ status: 422, code: 'mfa_verification_failed' });
    expect((await client.mfa.verify({ factorId, challengeId: challenge.data!.id, code: codeFor(secret) })).error).toBeNull();
    const replay = await client.mfa.verify({ factorId, challengeId: challenge.data!.id, code: codeFor(secret) });
    expect(replay.error).toMatchObject({ status: 422, code: 'mfa_challenge_expired' });
  });

  it('verify ends the user’s other aal1 sessions', async () => {
    const { client, factorId, secret, email, password } = await enrolledUser();
    const other = authClient(t);
    const { data: otherSession } = await other.signInWithPassword({ email, password });
    const challenge = await client.mfa.challenge({ factorId });
    await client.mfa.verify({ factorId, challengeId: challenge.data!.id, code: codeFor(secret) });
    expect((await authClient(t).getUser(otherSession.session!.access_token)).error?.name).toBe('AuthSessionMissingError');
  });

  it('with a verified factor, aal1 cannot change the password (insufficient_aal) nor unenroll', async () => {
    const { client, factorId, secret, email, password } = await enrolledUser();
    const challenge = await client.mfa.challenge({ factorId });
    await client.mfa.verify({ factorId, challengeId: challenge.data!.id, code: codeFor(secret) });
    const aal1 = authClient(t);
    await aal1.signInWithPassword({ email, password });
    expect((await aal1.mfa.getAuthenticatorAssuranceLevel()).data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' });
    expect((await aal1.updateUser({ password: 'another-pass-77' })).error).toMatchObject({ status: 401, code: 'insufficient_aal' });
    expect((await aal1.mfa.unenroll({ factorId })).error).toMatchObject({ status: 422, code: 'insufficient_aal' });
    expect((await client.mfa.unenroll({ factorId })).error).toBeNull();
  });

  it('two factors with the same name conflict; another user’s factor is not found', async () => {
    const { client, factorId } = await enrolledUser();
    const dup = await client.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
    expect(dup.error).toMatchObject({ status: 422, code: 'mfa_factor_name_conflict' });
    const stranger = await signedInUser(t);
    const foreign = await stranger.client.mfa.challenge({ factorId });
    expect(foreign.error).toMatchObject({ status: 404, code: 'mfa_factor_not_found' });
  });

  it('stores the TOTP secret encrypted when a key-encryption key is configured', async () => {
    const sealed = await startTestApp({ env: { AUTH_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64') } });
    try {
      const signed = await signedInUser(sealed);
      const { data } = await signed.client.mfa.enroll({ factorType: 'totp' });
      const row = await sealed.app.db.prisma.authMfaFactor.findUniqueOrThrow({ where: { id: data!.id } });
      const secret = (data as { totp: { secret: string } }).totp.secret;
      expect(row.secret).toMatch(/^enc:v1:/);
      expect(row.secret).not.toContain(secret);
      const challenge = await signed.client.mfa.challenge({ factorId: data!.id });
      expect((await signed.client.mfa.verify({ factorId: data!.id, challengeId: challenge.data!.id, code: codeFor(secret) })).error).toBeNull();
    } finally {
      await sealed.close();
    }
  });
});
