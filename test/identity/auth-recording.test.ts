import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, uniqueEmail } from '../helpers/auth.js';

// What idgraph records when clients use the embedded engine's /auth/v1 directly (supabase-js), as it does
// for the same calls through GraphQL or through the proxy in front of GoTrue: the users mirror and the events.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const eventsOf = async (userId: string) =>
  (await t.app.db.prisma.event.findMany({ where: { aggregateType: 'user', aggregateId: userId }, orderBy: { position: 'asc' } })).map((e) => e.type);

describe('embedded /auth/v1: the users mirror and events', () => {
  it('a sign-in appends user.signed_in, a refresh nothing; a profile change reaches the mirror with user.updated', async () => {
    const client = authClient(t);
    const email = uniqueEmail('recorded');
    const signUp = await client.signUp({ email, password: 'correct-horse-1', options: { data: { name: 'Before' } } });
    expect(signUp.error).toBeNull();
    const userId = signUp.data.user!.id;
    expect(await t.app.db.prisma.user.findUnique({ where: { id: userId } })).toMatchObject({ email, displayName: 'Before' });

    expect((await client.signInWithPassword({ email, password: 'correct-horse-1' })).error).toBeNull();
    await expect.poll(() => eventsOf(userId)).toEqual(['user.signed_up', 'user.signed_in']);
    expect((await client.refreshSession()).error).toBeNull();

    expect((await client.updateUser({ data: { name: 'After' } })).error).toBeNull();
    await expect.poll(() => t.app.db.prisma.user.findUnique({ where: { id: userId } })).toMatchObject({ displayName: 'After' });
    await expect.poll(() => eventsOf(userId)).toEqual(['user.signed_up', 'user.signed_in', 'user.updated']);
  });

  it('a failed sign-in records nothing', async () => {
    const client = authClient(t);
    const email = uniqueEmail('failed');
    const userId = (await client.signUp({ email, password: 'correct-horse-1' })).data.user!.id;
    const { error } = await authClient(t).signInWithPassword({ email, password: 'wrong-password' });
    expect(error?.code).toBe('invalid_credentials');
    // A later successful call's event comes after the sign-up alone: nothing was queued for the failure.
    expect((await authClient(t).signInWithPassword({ email, password: 'correct-horse-1' })).error).toBeNull();
    await expect.poll(() => eventsOf(userId)).toEqual(['user.signed_up', 'user.signed_in']);
  });

  it('a change through the admin API reaches the mirror as user.updated with no actor; the user’s own changes name them', async () => {
    const client = authClient(t);
    const email = uniqueEmail('admin-changed');
    const userId = (await client.signUp({ email, password: 'correct-horse-1' })).data.user!.id;
    expect((await client.updateUser({ data: { name: 'Own' } })).error).toBeNull();
    const renamed = uniqueEmail('renamed');
    expect((await adminClient(t).updateUserById(userId, { email: renamed, email_confirm: true })).error).toBeNull();
    await expect.poll(() => t.app.db.prisma.user.findUnique({ where: { id: userId } })).toMatchObject({ email: renamed });
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateType: 'user', aggregateId: userId }, orderBy: { position: 'asc' } });
    expect(events.map((e) => [e.type, (e.metadata as { actorId: string | null }).actorId])).toEqual([
      ['user.signed_up', userId],
      ['user.updated', userId],
      // The engine records the address change in its transaction, before the answer reaches the mirror.
      ['user.email_changed', null],
      ['user.updated', null],
    ]);
  });
});
