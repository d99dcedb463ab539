import type { Origin } from '../generated/prisma/client.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';

export const OriginRef = builder.prismaObject('Origin', {
  interfaces: [NodeRef],
  description: 'A host on the realm’s browser-origin allowlist. With a non-empty list, browsers may call the auth operations only from these hosts.',
  fields: (t) => ({
    id: t.exposeID('id'),
    host: t.exposeString('host', { description: 'The bare hostname: lowercase, no scheme, port or path; IDNs in punycode.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const OriginInput = builder.inputType('OriginInput', {
  description: 'A browser origin or hostname.',
  fields: (t) => ({
    origin: t.string({ required: true, description: 'An origin (https://app.example.com:8443) or a hostname; stored as its bare hostname.' }),
  }),
});

const originPayload = (name: string, description: string) =>
  builder.objectRef<{ origin: Origin }>(name).implement({
    description,
    fields: (t) => ({ origin: t.field({ type: OriginRef, resolve: (payload) => payload.origin }) }),
  });
const AddOriginPayload = originPayload('AddOriginPayload', 'The host on the allowlist (the existing entry when it was there already).');
const RemoveOriginPayload = originPayload('RemoveOriginPayload', 'The entry that was removed.');

const OriginConnection = connectionType(OriginRef, 'Origin');

builder.queryField('origins', (t) =>
  t.prismaConnection(
    {
      type: 'Origin',
      cursor: 'id',
      description: 'The realm’s browser-origin allowlist, by host. Realm admins only.',
      ...fromListing((_args: object, ctx) => ctx.services.origins.list(ctx.caller)),
    },
    OriginConnection,
  ),
);

builder.mutationFields((t) => ({
  addOrigin: t.field({
    type: AddOriginPayload,
    description: 'Allows a browser origin for the realm’s auth calls. Idempotent. Realm admins only.',
    args: { input: t.arg({ type: OriginInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ origin: await ctx.services.origins.add(input, ctx.caller) }),
  }),
  removeOrigin: t.field({
    type: RemoveOriginPayload,
    description: 'Takes a host off the allowlist (not_found when it is not on it). Realm admins only.',
    args: { input: t.arg({ type: OriginInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ origin: await ctx.services.origins.remove(input, ctx.caller) }),
  }),
}));
