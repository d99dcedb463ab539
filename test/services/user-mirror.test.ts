import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User as ProviderUser } from '../../src/identity/types.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

// The mirror of provider users in idgraph's users table, straight against the service.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const providerUser = (id: string, email: string, name?: string) =>
  ({ id, email, phone: '', user_metadata: name ? { name } : {}, app_metadata: { provider: 'email' } }) as unknown as ProviderUser;

const row = (id: string) => t.app.db.prisma.user.findUniqueOrThrow({ where: { id } });
const eventTypes = async (id: string) =>
  (await t.app.db.prisma.event.findMany({ where: { aggregateType: 'user', aggregateId: id }, orderBy: { position: 'asc' } })).map((e) => e.type);

describe('user mirror', () => {
  it('a first sign-in creates the row (user.signed_up); an unchanged one writes nothing but its event; a change updates the row', async () => {
    const id = randomUUID();
    await t.app.services.mirror.record(providerUser(id, 'first@example.com', 'First'), 'user.signed_in');
    const created = await row(id);
    expect(created).toMatchObject({ email: 'first@example.com', displayName: 'First' });

    await new Promise((r) => setTimeout(r, 5));
    await t.app.services.mirror.record(providerUser(id, 'first@example.com'), 'user.signed_in');
    // No display name given keeps the stored one; nothing changed, so the row was not rewritten.
    expect((await row(id)).updatedAt).toEqual(created.updatedAt);

    await t.app.services.mirror.record(providerUser(id, 'renamed@example.com'), 'user.updated');
    const changed = await row(id);
    expect(changed).toMatchObject({ email: 'renamed@example.com', displayName: 'First' });
    expect(changed.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
    expect(await eventTypes(id)).toEqual(['user.signed_up', 'user.signed_in', 'user.updated']);
  });

  it('a sign-up recorded for an existing user appends nothing (it was recorded where the user was created)', async () => {
    const id = randomUUID();
    await t.app.services.mirror.record(providerUser(id, 'again@example.com'), 'user.signed_up');
    await t.app.services.mirror.record(providerUser(id, 'again@example.com'), 'user.signed_up');
    expect(await eventTypes(id)).toEqual(['user.signed_up']);
  });

  it('costs one SQL statement, whatever happens: new user, unchanged sign-in, change, repeated sign-up', async () => {
    const id = randomUUID();
    const record = (email: string, type: 'user.signed_in' | 'user.updated' | 'user.signed_up') =>
      t.countStatements(() => t.app.services.mirror.record(providerUser(id, email), type));
    expect(await record('one@example.com', 'user.signed_in')).toBe(1);
    expect(await record('one@example.com', 'user.signed_in')).toBe(1);
    expect(await record('two@example.com', 'user.updated')).toBe(1);
    expect(await record('two@example.com', 'user.signed_up')).toBe(1);
    expect(await eventTypes(id)).toEqual(['user.signed_up', 'user.signed_in', 'user.updated']);
  });
});
