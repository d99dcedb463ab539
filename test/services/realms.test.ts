import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('default realm bootstrap', () => {
  it('the first start created the default realm, its system roles and one realm.created event', async () => {
    const realm = await t.app.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' }, include: { roles: true } });
    expect(realm.displayName).toBe('Default realm');
    const roles = Object.fromEntries(realm.roles.map((r) => [r.name, r]));
    expect(Object.keys(roles).sort()).toEqual(['member', 'owner']);
    expect(roles.owner!.system).toBe(true);
    expect(roles.owner!.permissions).toContain('members:manage');
    expect(roles.member!.permissions).toEqual(['tenant:read']);
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateId: realm.id } });
    expect(events.map((e) => [e.type, e.version])).toEqual([['realm.created', 1]]);
    expect(events[0]!.realmId).toBe(realm.id);
  });

  it('is idempotent, also when several replicas bootstrap at once', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => t.app.services.realms.ensureDefaultRealm()));
    expect(results.every((r) => r.created === false)).toBe(true);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(await t.app.db.prisma.realm.count()).toBe(1);
    expect(await t.app.db.prisma.role.count()).toBe(2);
    expect(await t.app.db.prisma.event.count({ where: { type: 'realm.created' } })).toBe(1);
  });
});
