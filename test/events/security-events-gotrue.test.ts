import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ChallengeFactorDocument,
  EnrollFactorDocument,
  SignOutDocument,
  UnenrollFactorDocument,
  UpdateViewerDocument,
  VerifyFactorDocument,
} from '../generated/graphql.js';
import type { TestApp } from '../helpers/app.js';
import { authClient, uniqueEmail } from '../helpers/auth.js';
import { startGotruePair } from '../helpers/gotrue.js';
import { signUpUser } from '../helpers/realm.js';
import { overHttp as overHttpOn, securityWatch, totpCode } from '../helpers/security-events.js';

// In front of GoTrue, idgraph records the security events of its own GraphQL mutations, after GoTrue answered:
// GoTrue's sessions and factors are not in idgraph's database, so what happens at GoTrue directly is not seen.

let pair: Awaited<ReturnType<typeof startGotruePair>>;
let t: TestApp;
let streams: Awaited<ReturnType<typeof securityWatch>>;

beforeAll(async () => {
  pair = await startGotruePair({ proxy: { SUBSCRIPTION_RECHECK_SECONDS: '1' } });
  t = pair.proxy;
  streams = await securityWatch(t, await signUpUser(t));
});
afterEach(() => streams.dispose());
afterAll(async () => {
  await streams.close();
  await pair.close();
});

const overHttp = <R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V, accessToken: string) =>
  overHttpOn(t, document, variables, accessToken);

describe('GraphQL mutations through GoTrue', () => {
  it.each(['LOCAL', 'OTHERS', 'GLOBAL'] as const)('signOut %s: user.signed_out with its scope', async (scope) => {
    const user = await signUpUser(t);
    const stream = await streams.watch(user);
    await overHttp(SignOutDocument, { input: { scope } }, user.accessToken);
    await streams.expectRecordedOnce(user, stream, 'user.signed_out', {
      actor: 'user',
      payload: { scope: scope.toLowerCase() },
      secrets: [user.accessToken, user.refreshToken, user.password],
    });
  });

  it('updateViewer: a password change and an email change', async () => {
    const user = await signUpUser(t);
    const stream = await streams.watch(user);
    const newPassword = 'another-horse-2';
    await overHttp(UpdateViewerDocument, { input: { password: newPassword } }, user.accessToken);
    await streams.expectRecordedOnce(user, stream, 'user.password_changed', { actor: 'user', secrets: [newPassword, user.password] });
    // GoTrue (autoconfirm) changes the address at once.
    await overHttp(UpdateViewerDocument, { input: { email: uniqueEmail('moved-gotrue') } }, user.accessToken);
    await streams.expectRecordedOnce(user, stream, 'user.email_changed', { actor: 'user', secrets: [newPassword] });
    // The same address again changes nothing.
    await overHttp(UpdateViewerDocument, { input: { email: (await t.app.db.prisma.user.findUniqueOrThrow({ where: { id: user.userId } })).email! } }, user.accessToken);
    expect(await t.app.db.prisma.event.count({ where: { aggregateId: user.userId, type: 'user.email_changed' } })).toBe(1);
  });

  it('a factor: enrolled at its first verification only, then unenrolled', async () => {
    const user = await signUpUser(t);
    const stream = await streams.watch(user);
    const { factor, totp } = (await overHttp(EnrollFactorDocument, { input: { factorType: 'TOTP' } }, user.accessToken)).enrollFactor;
    const verify = async (accessToken: string, offsetSeconds: number) => {
      const { challengeId } = (await overHttp(ChallengeFactorDocument, { input: { factorId: factor.id } }, accessToken)).challengeFactor;
      const code = totpCode(totp!.secret, offsetSeconds);
      return (await overHttp(VerifyFactorDocument, { input: { factorId: factor.id, challengeId, code } }, accessToken)).verifyFactor.session!;
    };
    const aal2 = await verify(user.accessToken, 0);
    await streams.expectRecordedOnce(user, stream, 'user.factor_enrolled', { actor: 'user', payload: { factorId: factor.id, factorType: 'totp' }, secrets: [totp!.secret] });
    const again = await verify(aal2.accessToken, 30);
    expect(await t.app.db.prisma.event.count({ where: { aggregateId: user.userId, type: 'user.factor_enrolled' } })).toBe(1);
    await overHttp(UnenrollFactorDocument, { input: { factorId: factor.id } }, again.accessToken);
    await streams.expectRecordedOnce(user, stream, 'user.factor_unenrolled', { actor: 'user', payload: { factorId: factor.id, factorType: 'totp' }, secrets: [totp!.secret] });
  });

  it('what happens at GoTrue without idgraph’s GraphQL is not seen: a sign-out through the /auth/v1 proxy records no event', async () => {
    const user = await signUpUser(t);
    const client = authClient(t);
    expect((await client.signInWithPassword({ email: user.email, password: user.password })).error).toBeNull();
    expect((await client.signOut({ scope: 'local' })).error).toBeNull();
    expect(await t.app.db.prisma.event.count({ where: { aggregateId: user.userId, type: 'user.signed_out' } })).toBe(0);
  });
});
