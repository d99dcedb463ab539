import type { ApiKey } from '../generated/prisma/client.js';
import { TokenType } from './auth.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';

export const ApiKeyRef = builder.prismaObject('ApiKey', {
  interfaces: [NodeRef],
  description: 'A machine credential of one tenant. It acts for its owner with at most its scopes; the secret is never shown again.',
  fields: (t) => ({
    id: t.exposeID('id'),
    displayName: t.exposeString('displayName'),
    prefix: t.exposeString('prefix', { description: 'The public part of the key (`idg_<prefix>.<secret>`), to recognise it.' }),
    scopes: t.exposeStringList('scopes', { description: 'The permissions the key may use, narrowed to its owner’s current ones.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Written at most once a minute per key.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    owner: t.relation('owner', { description: 'The user the key acts for (who created it).' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new key: its tenant, name, scopes and expiry.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    displayName: t.string({ required: true }),
    scopes: t.stringList({ required: true, description: 'Permissions, each one the caller holds in the tenant.' }),
    expiresAt: t.field({ type: 'DateTime', required: false, description: 'In the future, at most a year away; a year from now when omitted.' }),
  }),
});
const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', { description: 'The key to revoke.', fields: (t) => ({ apiKeyId: t.id({ required: true }) }) });
const ExchangeApiKeyInput = builder.inputType('ExchangeApiKeyInput', {
  description: 'The API key to exchange.',
  fields: (t) => ({ key: t.string({ required: true, description: 'The full key, `idg_<prefix>.<secret>`.' }) }),
});

const CreateApiKeyPayload = builder.objectRef<{ apiKey: ApiKey; key: string }>('CreateApiKeyPayload').implement({
  description: 'The new key, with its secret shown this once.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (p) => p.apiKey }),
    key: t.exposeString('key', { description: 'The full key. Shown this once: only a hash of its secret is kept.' }),
  }),
});
const RevokeApiKeyPayload = builder.objectRef<ApiKey>('RevokeApiKeyPayload').implement({
  description: 'The key, now revoked.',
  fields: (t) => ({ apiKey: t.field({ type: ApiKeyRef, resolve: (apiKey) => apiKey }) }),
});
const ExchangeApiKeyPayload = builder
  .objectRef<{ accessToken: string; expiresIn: number; tokenType: 'bearer' }>('ExchangeApiKeyPayload')
  .implement({
    description: 'A platform token: send it as `Authorization: Bearer`; it stops working when the key is revoked.',
    fields: (t) => ({
      accessToken: t.exposeString('accessToken'),
      expiresIn: t.exposeInt('expiresIn', { description: 'Seconds (at most 300).' }),
      tokenType: t.expose('tokenType', { type: TokenType }),
    }),
  });

const ApiKeyConnection = connectionType(ApiKeyRef, 'ApiKey');

builder.queryField('apiKeys', (t) =>
  t.prismaConnection(
    {
      type: 'ApiKey',
      cursor: 'id',
      description: 'The API keys of a tenant, newest first (apikeys:manage).',
      args: { tenantId: t.arg.id({ required: true, description: 'The tenant.' }) },
      ...fromListing((args: { tenantId: string | number }, ctx) => ctx.services.apiKeys.listApiKeys({ tenantId: String(args.tenantId) }, ctx.caller)),
    },
    ApiKeyConnection,
  ),
);

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyPayload,
    description: 'A new key for the tenant (apikeys:manage); its scopes must be permissions the caller holds there.',
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apiKeys.createApiKey({ ...input, tenantId: String(input.tenantId) }, ctx.caller),
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeyPayload,
    description: 'Revokes a key (apikeys:manage in its tenant); the key and its platform tokens stop working.',
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apiKeys.revokeApiKey({ apiKeyId: String(input.apiKeyId) }, ctx.caller),
  }),
  exchangeApiKey: t.field({
    type: ExchangeApiKeyPayload,
    description: 'Exchanges an API key for a five-minute platform token, so the key itself need not ride on every call.',
    args: { input: t.arg({ type: ExchangeApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apiKeys.exchangeApiKey(input, ctx.caller),
  }),
}));
