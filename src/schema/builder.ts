import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateTimeResolver } from 'graphql-scalars';
import { authFailureError, scopesFor } from '../auth/scopes.js';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';
import { complexityError, fieldComplexity } from './complexity.js';
import type { GraphQLContext } from './context.js';
import { BoundedJSONResolver } from './json.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    authenticated: boolean;
    /** The session passed MFA. */
    aal2: boolean;
    /** MFA within this many seconds (FRESH_MFA_SECONDS for "fresh"). */
    mfaFresh: number;
    tenantMember: string;
    permission: string;
    realmAdmin: boolean;
    serviceRole: boolean;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  /** Every connection's totalCount: a number, or a count that runs only when the field is selected. */
  Connection: { totalCount?: number | (() => number | Promise<number>) };
}>({
  // scope-auth first, federation last (Pothos' documented order).
  plugins: [ScopeAuthPlugin, ComplexityPlugin, PrismaPlugin, RelayPlugin, DirectivesPlugin, FederationPlugin],
  // Cost is checked before any root field resolves, with variables applied (graphql-armor's
  // validation-time cost cannot see them, so `first: $n` would cost nothing there).
  complexity: {
    fieldComplexity,
    limit: (ctx) => ({ complexity: ctx.limits.maxCost }),
    complexityError,
  },
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) =>
      scopesFor(
        {
          viewer: ctx.viewer,
          now: ctx.now,
          isTenantMember: (tenantId) => ctx.services.access.isTenantMember(ctx.viewer, tenantId),
          activeTenantPermissions: () => ctx.services.access.activeTenantPermissions(ctx.viewer),
          isRealmAdmin: async () => ctx.services.access.isRealmAdmin(ctx.viewer, await ctx.services.realms.defaultRealmId()),
          premintChallenge: () => ctx.services.access.premintChallenge(ctx.caller),
        },
        ctx.scopeFailure,
      ),
    unauthorizedError: (_parent, ctx, _info, result) => authFailureError(ctx.viewer, result.failure, ctx.scopeFailure),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // node and nodes take plain UUIDs and check each type's visibility (node.ts).
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    nodeTypeOptions: { description: 'An object with an id: any of them can be read back with node(id) or nodes(ids).' },
    firstArgOptions: { description: 'The page size, counted from the start (or from `after`).' },
    lastArgOptions: { description: 'The page size, counted from the end (or back from `before`).' },
    afterArgOptions: { description: 'A cursor: the page starts after it.' },
    beforeArgOptions: { description: 'A cursor: the page ends before it.' },
    pageInfoTypeOptions: { description: 'Where a page of a connection stands: cursors to resume from, and whether more pages follow.' },
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', BoundedJSONResolver);

builder.queryType({ description: 'Reads. Lookups of one object answer null with an error entry when it is missing or hidden, so the rest of the query survives.' });
builder.mutationType({ description: 'Changes. Each takes one input object and answers a payload; every change to the realm layer is recorded in the audit log.' });
builder.subscriptionType({ description: 'Live streams, over graphql-ws or SSE. Each can resume after the last cursor it sent.' });
