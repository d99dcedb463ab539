import type { AdminSearchHit, AdminStats } from '../services/admin.js';
import { builder } from './builder.js';

const AdminStatsRef = builder.objectRef<AdminStats>('AdminStats').implement({
  description: 'Counts for the realm admin’s overview.',
  fields: (t) => ({
    realms: t.exposeInt('realms'),
    tenants: t.exposeInt('tenants', { description: 'Tenants of the realm that are not deleted.' }),
    users: t.exposeInt('users'),
    activeSessions: t.exposeInt('activeSessions', {
      nullable: true,
      description: 'Sessions neither ended nor expired; null when an external GoTrue keeps the sessions.',
    }),
    eventsLast24h: t.exposeInt('eventsLast24h', { description: 'Events of the realm recorded in the last 24 hours.' }),
  }),
});

const AdminSearchHitKind = builder.enumType('AdminSearchHitKind', {
  description: 'What an adminSearch hit is.',
  values: { USER: { value: 'user' }, TENANT: { value: 'tenant' }, REALM: { value: 'realm' } } as const,
});

const AdminSearchHitRef = builder.objectRef<AdminSearchHit>('AdminSearchHit').implement({
  description: 'A user, tenant or realm whose name, email or slug starts with the search text.',
  fields: (t) => ({
    kind: t.expose('kind', { type: AdminSearchHitKind }),
    id: t.exposeID('id'),
    title: t.exposeString('title', { description: 'Display name (a user without one: email or phone).' }),
    subtitle: t.exposeString('subtitle', { nullable: true, description: 'Slug for tenants and realms, email for users.' }),
  }),
});

builder.queryFields((t) => ({
  adminStats: t.field({
    type: AdminStatsRef,
    description: 'Realm admins only.',
    resolve: (_root, _args, ctx) => ctx.services.admin.stats(ctx.caller),
  }),
  adminSearch: t.field({
    type: [AdminSearchHitRef],
    description: 'Case-insensitive prefix search over users (email, display name), tenants (display name, slug) and realms (slug, display name): realms first, then tenants, then users. Realm admins only.',
    args: {
      q: t.arg.string({ required: true, description: '1 to 100 characters after trimming; % and _ match themselves.' }),
      first: t.arg.int({ required: false, defaultValue: 20, description: 'At most 50.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.admin.search(args, ctx.caller),
  }),
}));
