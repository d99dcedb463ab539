import { brandWithType } from '@pothos/core';
import { queryFromInfo } from '@pothos/plugin-prisma';
import type { GraphQLResolveInfo } from 'graphql';
import type { AppError } from '../errors.js';
import { type LoadedNode, MAX_NODE_IDS, type NodeType } from '../services/nodes.js';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';

/**
 * The Node interface. An object's id is its UUID, the same everywhere (tokens' sub, REST, webhooks,
 * federation keys), and unique across every type, so node(id) needs no type prefix in it.
 */
export const NodeRef = builder.nodeInterfaceRef();

/** The Prisma selection each type's fields need, so a node's row comes with its relations in the same statement. */
const selectionFor = (ctx: GraphQLContext, info: GraphQLResolveInfo) => (type: NodeType) => {
  if (type === 'AuditEvent') return {};
  const query = queryFromInfo({ context: ctx, info, typeName: type }) as { select?: Record<string, unknown> };
  return query.select ? { ...query, select: { ...query.select, id: true } } : query;
};

/** Marks each row with its GraphQL type, for the Node interface's resolveType. */
const asNode = (node: LoadedNode | AppError) => {
  if (!('row' in node)) return node;
  brandWithType(node.row, node.type as never);
  return node.row;
};

builder.queryFields((t) => ({
  node: t.field({
    type: NodeRef,
    nullable: true,
    description:
      'Any object by its id (a UUID). Null with not_found for an id of nothing the viewer may see, as its own query would answer; bad_request for an id that is no UUID.',
    args: { id: t.arg.id({ required: true, description: 'The object’s id.' }) },
    resolve: async (_root, { id }, ctx, info) => {
      const [node] = await ctx.services.nodes.load(ctx.caller, [String(id)], selectionFor(ctx, info));
      if (!('row' in node!)) throw node;
      return asNode(node);
    },
  }),
  nodes: t.field({
    type: [NodeRef],
    nullable: { list: false, items: true },
    description: `Objects by their ids, in the order given (at most ${MAX_NODE_IDS}). Each id the viewer may not see is null with its own error entry, as for node(id).`,
    args: { ids: t.arg.idList({ required: true, description: 'The objects’ ids; each answers in its place, null with an error entry when missing or hidden.' }) },
    complexity: (args) => ({ field: args.ids.length, multiplier: Math.max(1, args.ids.length) }),
    // An AppError in the list makes that item null, with an error at its own path.
    resolve: async (_root, { ids }, ctx, info) =>
      (await ctx.services.nodes.load(ctx.caller, ids.map(String), selectionFor(ctx, info))).map(asNode) as object[],
  }),
}));
