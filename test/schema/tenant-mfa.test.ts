import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChallengeFactorDocument, EnrollFactorDocument, TenantDocument, UpdateTenantConfigDocument, VerifyFactorDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedTenant, signIn, signUpUser, type SignedIn } from '../helpers/realm.js';

// A tenant whose config sets mfaRequired admits people only at aal2; the
// refusal carries a challenge opened on the caller's factor when they have one.

let t: TestApp;
let owner: SignedIn;
let tenantId: string;
const totpCode = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();

beforeAll(async () => {
  t = await startTestApp();
  owner = await signUpUser(t);
  tenantId = (await seedTenant(t, owner.userId)).id;
});
afterAll(() => t.close());

describe('tenant config mfaRequired', () => {
  it('refuses aal1 callers with mfa_required and a pre-minted challenge; verifying it gives access', async () => {
    // The owner enrolls and verifies TOTP (aal2), then requires MFA in the tenant.
    const enrolled = (await t.execute(EnrollFactorDocument, { input: { factorType: 'TOTP' } }, owner.headers)).body.data!.enrollFactor;
    const first = (await t.execute(ChallengeFactorDocument, { input: { factorId: enrolled.factor.id } }, owner.headers)).body.data!.challengeFactor;
    const aal2 = (
      await t.execute(VerifyFactorDocument, { input: { factorId: enrolled.factor.id, challengeId: first.challengeId, code: totpCode(enrolled.totp!.secret) } }, owner.headers)
    ).body.data!.verifyFactor.session!.accessToken;
    const set = await t.execute(UpdateTenantConfigDocument, { input: { tenantId, config: { mfaRequired: true } } }, { authorization: `Bearer ${aal2}` });
    expect(set.body.errors).toBeUndefined();

    // A fresh aal1 sign-in is refused, with a challenge ready to answer.
    const aal1 = await signIn(t, owner);
    const refused = await t.execute(TenantDocument, { id: tenantId }, aal1.headers);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: 'mfa_required',
      reason: 'no_mfa',
      tenantId,
      challenge: { factorId: enrolled.factor.id, factorType: 'totp', challengeId: expect.any(String), expiresAt: expect.any(Number) },
    });
    const { challengeId } = refused.body.errors![0]!.extensions!.challenge as { challengeId: string };
    const verified = await t.execute(VerifyFactorDocument, { input: { factorId: enrolled.factor.id, challengeId, code: totpCode(enrolled.totp!.secret) } }, aal1.headers);
    const stepped = verified.body.data!.verifyFactor.session!.accessToken;
    expect((await t.execute(TenantDocument, { id: tenantId }, { authorization: `Bearer ${stepped}` })).body.data?.tenant?.id).toBe(tenantId);
  });

  it('a member without any factor gets mfa_required with no challenge; outsiders still get not_found', async () => {
    const member = await signUpUser(t);
    await seedMember(t, tenantId, member.userId, 'member');
    const refused = await t.execute(TenantDocument, { id: tenantId }, member.headers);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'mfa_required', reason: 'no_mfa' });
    expect(refused.body.errors?.[0]?.extensions).not.toHaveProperty('challenge');
    const outsider = await signUpUser(t);
    expect((await t.execute(TenantDocument, { id: tenantId }, outsider.headers)).body.errors?.[0]?.extensions?.code).toBe('not_found');
  });
});
