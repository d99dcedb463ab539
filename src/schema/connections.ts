import type { GraphQLResolveInfo } from 'graphql';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';

/**
 * Every connection is named for its node: `TenantConnection` with `TenantEdge`,
 * whichever field returns it, so two fields listing the same type share one
 * connection type (the relay plugin would otherwise name them per field).
 */
export function connectionType<Ref extends Parameters<typeof builder.connectionObject>[0]['type']>(
  type: Ref,
  nodeName: string,
  edge?: Parameters<typeof builder.connectionObject>[1],
) {
  return builder.connectionObject(
    { type, name: `${nodeName}Connection`, description: `A page of ${nodeName} items.` },
    edge ?? { description: `${/^[AEIOU]/.test(nodeName) ? 'An' : 'A'} ${nodeName} and its cursor.` },
  );
}

builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'How many items the connection holds across every page. Counted (one statement) only when selected.',
    // Lets a prisma connection skip loading its page when only the count is asked for.
    extensions: { pothosPrismaTotalCount: true },
    resolve: (connection) => {
      const { totalCount } = connection;
      if (totalCount === undefined) throw new Error('This connection has no totalCount.');
      return typeof totalCount === 'function' ? totalCount() : totalCount;
    },
  }),
);

/** A caller's listing (authorized once): pages of it, and how many rows it holds. */
interface Listing {
  page: (query: never) => Promise<unknown>;
  count: () => Promise<number>;
}

const listings = new WeakMap<GraphQLResolveInfo, Promise<Listing>>();

/**
 * The listing behind one connection field, loaded once per field: the page
 * and totalCount share its authorization, so selecting totalCount costs one
 * count statement and nothing else.
 */
function listingFor<L extends Listing>(info: GraphQLResolveInfo, load: () => Promise<L>): Promise<L> {
  let listing = listings.get(info) as Promise<L> | undefined;
  if (!listing) {
    listing = load();
    listings.set(info, listing);
  }
  return listing;
}

type PageOf<L extends Listing> = L['page'] extends (query: never) => PromiseLike<infer Rows> ? Rows : never;

/**
 * The resolve and totalCount options of a prisma connection over a service's listing:
 * `t.prismaConnection({ type, cursor, ...fromListing((args, ctx) => ctx.services.x.list(…)) }, XConnection)`.
 */
export function fromListing<Args, L extends Listing>(load: (args: Args, ctx: GraphQLContext) => Promise<L>) {
  const listing = (args: Args, ctx: GraphQLContext, info: GraphQLResolveInfo) => listingFor(info, () => load(args, ctx));
  return {
    resolve: async (query: Parameters<L['page']>[0], _root: unknown, args: Args, ctx: GraphQLContext, info: GraphQLResolveInfo) =>
      (await listing(args, ctx, info)).page(query) as Promise<PageOf<L>>,
    totalCount: async (_root: unknown, args: Args, ctx: GraphQLContext, info: GraphQLResolveInfo) => (await listing(args, ctx, info)).count(),
  };
}
