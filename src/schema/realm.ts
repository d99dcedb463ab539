import { builder } from './builder.js';
import { uuidNodeId } from './ids.js';

builder.prismaNode('Realm', {
  description: 'An application that uses idgraph. Public: it names the realm, nothing more.',
  id: uuidNodeId,
  fields: (t) => ({
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
