import { builder } from './builder.js';
import { NodeRef } from './node.js';

builder.prismaObject('Realm', {
  description: 'An application that uses idgraph. Public: it names the realm, nothing more.',
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    displayName: t.exposeString('displayName'),
  }),
});

builder.queryField('realm', (t) =>
  t.prismaField({
    type: 'Realm',
    description: 'The realm this idgraph serves (the default realm in embedded mode).',
    resolve: (query, _root, _args, ctx) => ctx.services.realms.getDefaultRealm(query),
  }),
);
