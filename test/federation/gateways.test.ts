import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import { type ExecutionResult, getOperationAST, parse, validate } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// idgraph composed into a supergraph with a second subgraph, behind both gateways:
// every join reaches idgraph's _entities with the caller's own Authorization
// header, so what a caller sees through a gateway is what idgraph shows them.

let t: TestApp;
let orders: { url: string; server: Server };
let supergraphSdl: string;
let ann: SignedIn; // owner of the tenant: sees the email of its members
let bob: SignedIn; // member (tenant:read): sees ann, not her email
let carol: SignedIn; // shares no tenant with either
const purchases: Array<{ id: string; buyerId: string }> = [];
/** The HTTP statuses idgraph answered the gateway with. */
let idgraphStatuses: number[] = [];

/** A second subgraph: orders, each with its buyer, a User reference that idgraph resolves; it adds User.orders. */
const ordersTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
  type Order @key(fields: "id") { id: ID! buyer: User }
  type User @key(fields: "id") { id: ID! orders: [Order!]! }
  type Query { orders: [Order!]! order(id: ID!): Order }
`);

function startOrdersSubgraph(): Promise<{ url: string; server: Server }> {
  const schema = buildSubgraphSchema({
    typeDefs: ordersTypeDefs,
    resolvers: {
      Query: { orders: () => purchases, order: (_root: unknown, { id }: { id: string }) => purchases.find((order) => order.id === id) ?? null },
      Order: { buyer: (order: { buyerId: string }) => ({ __typename: 'User', id: order.buyerId }) },
      User: {
        __resolveReference: (user: { id: string }) => ({ id: user.id }),
        orders: (user: { id: string }) => purchases.filter((order) => order.buyerId === user.id),
      },
    } as never,
  });
  const yoga = createYoga({ schema, logging: false, graphqlEndpoint: '/graphql' });
  const server = createServer(yoga);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, server })),
  );
}

async function idgraphSdl(): Promise<string> {
  const res = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ _service { sdl } }' }) });
  const body = (await res.json()) as { data: { _service: { sdl: string } } };
  return body.data._service.sdl;
}

type Gateway = (query: string, user: SignedIn | null) => Promise<ExecutionResult<Record<string, unknown>>>;

/** @apollo/gateway, driven as Apollo Server would: load(), then its executor per request. */
async function apolloGateway(): Promise<{ run: Gateway; stop: () => Promise<void> }> {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const gateway = new ApolloGateway({
    supergraphSdl,
    logger: quiet,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<{ authorization?: string }>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
        didReceiveResponse({ response }) {
          if (url?.startsWith(t.url) && response.http?.status) idgraphStatuses.push(response.http.status);
          return response;
        },
      }),
  });
  const { schema, executor } = await gateway.load();
  const run: Gateway = async (query, user) => {
    const document = parse(query);
    const errors = validate(schema, document);
    if (errors.length > 0) return { errors };
    const requestContext = {
      request: { query, variables: {} },
      document,
      source: query,
      queryHash: createHash('sha256').update(query).digest('hex'),
      operation: getOperationAST(document),
      operationName: null,
      schema,
      context: { authorization: user?.headers.authorization },
      metrics: {},
      logger: quiet,
      cache: undefined,
      overallCachePolicy: undefined,
    };
    return (await executor(requestContext as never)) as ExecutionResult<Record<string, unknown>>;
  };
  return { run, stop: () => gateway.stop() };
}

/** @graphql-hive/gateway-runtime on the composed supergraph, called through its fetch. */
function hiveGateway() {
  const gateway = createGatewayRuntime({
    supergraph: supergraphSdl,
    logging: false,
    // Hive Gateway loads @graphql-mesh/transport-http for HTTP subgraphs, which hands the entry's options
    // to this executor; the runtime alone takes one in.
    transports: {
      http: {
        getSubgraphExecutor: ({ transportEntry, fetch }) =>
          buildHTTPExecutor({ endpoint: transportEntry.location!, ...transportEntry.options, fetch: fetch as never }),
      },
    },
    // Subscriptions over SSE as a POST: a GET would need idgraph's CSRF header.
    transportEntries: { idgraph: { options: { method: 'POST' } } },
    propagateHeaders: { fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }) },
    plugins: () => [
      {
        onFetch: ({ url }) =>
          ({ response }) => {
            if (url.startsWith(t.url)) idgraphStatuses.push(response.status);
          },
      },
    ],
  });
  const run: Gateway = async (query, user) => {
    const res = await gateway.fetch('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...user?.headers },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as ExecutionResult<Record<string, unknown>>;
  };
  return Object.assign(gateway, { run, stop: async () => gateway[Symbol.asyncDispose]() });
}

beforeAll(async () => {
  t = await startTestApp();
  orders = await startOrdersSubgraph();
  [ann, bob, carol] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
  const tenant = await seedTenant(t, ann.userId);
  await seedMember(t, tenant.id, bob.userId, 'member');
  purchases.push({ id: 'o-ann', buyerId: ann.userId }, { id: 'o-bob', buyerId: bob.userId }, { id: 'o-carol', buyerId: carol.userId });

  const composed = composeServices([
    { name: 'idgraph', typeDefs: parse(await idgraphSdl()), url: `${t.url}/graphql` },
    { name: 'orders', typeDefs: ordersTypeDefs, url: orders.url },
  ]);
  if (composed.errors) throw new Error(`composition failed:\n${composed.errors.map((e) => e.message).join('\n')}`);
  supergraphSdl = composed.supergraphSdl;
});
afterAll(async () => {
  await new Promise((resolve) => orders?.server.close(resolve));
  await t?.close();
});

describe('composition', () => {
  it('composes idgraph with another subgraph, subscriptions included, without errors', async () => {
    const composed = composeServices([
      { name: 'idgraph', typeDefs: parse(await idgraphSdl()), url: `${t.url}/graphql` },
      { name: 'orders', typeDefs: ordersTypeDefs, url: orders.url },
    ]);
    expect(composed.errors ?? []).toEqual([]);
    const supergraph = parse(composed.supergraphSdl!);
    const subscription = supergraph.definitions.find((d) => 'name' in d && d.name?.value === 'Subscription');
    expect(subscription && 'fields' in subscription ? subscription.fields?.map((f) => f.name.value) : []).toEqual(
      expect.arrayContaining(['auditEvents', 'viewerSecurityEvents']),
    );
    expect(composed.supergraphSdl).toMatch(/type User\b[^{]*@join__type\(graph: IDGRAPH, key: "id"\)[^{]*@join__type\(graph: ORDERS, key: "id"\)/);
  });
});

const joined = `{ orders { id buyer { id email displayName } } }`;
type Joined = { orders: Array<{ id: string; buyer: { id: string; email: string | null } | null }> };
const buyerOf = (result: ExecutionResult<Record<string, unknown>>, orderId: string) =>
  (result.data as Joined | null | undefined)?.orders.find((order) => order.id === orderId)?.buyer ?? null;

describe.each([
  ['@apollo/gateway', apolloGateway],
  ['@graphql-hive/gateway-runtime', async () => hiveGateway()],
])('through %s', (_name, start) => {
  let gateway: { run: Gateway; stop: () => Promise<void> };
  beforeAll(async () => {
    gateway = await start();
  });
  afterAll(() => gateway?.stop());

  it('a join the caller may see: its own email, with the Authorization header forwarded to idgraph', async () => {
    const result = await gateway.run(`{ order(id: "o-ann") { id buyer { id email orders { id } } } }`, ann);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ order: { id: 'o-ann', buyer: { id: ann.userId, email: ann.email, orders: [{ id: 'o-ann' }] } } });
  });

  it('a join the caller may not see: no email, nothing of the user leaks, for a stranger and for anonymous callers', async () => {
    for (const caller of [carol, null]) {
      const result = await gateway.run(`{ order(id: "o-ann") { id buyer { id email displayName } } }`, caller);
      expect(buyerOf({ data: { orders: [(result.data as { order: unknown }).order] } }, 'o-ann')?.email ?? null).toBeNull();
      expect(JSON.stringify(result)).not.toContain(ann.email);
    }
  });

  it('one query joining users the caller may and may not see keeps what it may see', async () => {
    idgraphStatuses = [];
    const result = await gateway.run(joined, bob);
    // idgraph's answer carries data and an error (ann's email): a gateway keeps it only if it is a 200.
    expect(idgraphStatuses).toEqual([200]);
    expect(result.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([[['orders', 0, 'buyer', 'email'], 'forbidden']]);
    // bob's own email; ann is visible to bob (a shared tenant) but her email is not; carol shares nothing.
    expect(buyerOf(result, 'o-bob')).toMatchObject({ id: bob.userId, email: bob.email });
    expect(buyerOf(result, 'o-ann')?.email ?? null).toBeNull();
    expect(buyerOf(result, 'o-carol')?.email ?? null).toBeNull();
    expect(JSON.stringify(result)).not.toContain(ann.email);
    expect(JSON.stringify(result)).not.toContain(carol.email);
  });
});

describe('subscriptions through @graphql-hive/gateway-runtime', () => {
  it('reach idgraph over SSE with the subscriber’s Authorization header, and are refused without it', async () => {
    const gateway = hiveGateway();
    const admin = await signInRealmAdmin(t);
    const subscribe = (headers: Record<string, string>) =>
      gateway.fetch('http://gateway.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query: 'subscription { auditEvents(after: "0") { cursor node { type } } }' }),
      });
    /** The first `next` event's payload; the stream is then closed. */
    const firstEvent = async (res: Response) => {
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          const data = /event: next\ndata: (.*)\n/.exec(text)?.[1];
          if (data) return JSON.parse(data) as ExecutionResult<{ auditEvents: { cursor: string; node: { type: string } } }>;
        }
      } finally {
        await reader.cancel();
      }
      throw new Error(`no event: ${text}`);
    };
    try {
      const allowed = await firstEvent(await subscribe(admin.headers));
      expect(allowed.errors).toBeUndefined();
      expect(allowed.data?.auditEvents.node.type).toEqual(expect.any(String));
      const refused = await firstEvent(await subscribe({}));
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe('unauthenticated');
    } finally {
      await gateway[Symbol.asyncDispose]();
    }
  });
});
