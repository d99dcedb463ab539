import type { Outbox, WebhookEndpoint } from '../generated/prisma/client.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';
import { TenantRef } from './tenant.js';

export const WebhookEndpointRef = builder.prismaObject('WebhookEndpoint', {
  interfaces: [NodeRef],
  description:
    "Where events are POSTed, signed per Standard Webhooks (webhook-id is the event id, to de-duplicate). A tenant's endpoint gets the tenant's events; a realm-wide one (no tenant) every event of the realm.",
  fields: (t) => ({
    id: t.exposeID('id'),
    tenant: t.field({
      type: TenantRef,
      nullable: true,
      description: 'The tenant whose events it gets; null for a realm-wide endpoint.',
      resolve: (endpoint, _args, ctx) => (endpoint.tenantId ? ctx.services.references.tenant(ctx.caller, endpoint.tenantId) : null),
    }),
    realmWide: t.boolean({ description: 'Whether it gets every event of the realm (no tenant).', resolve: (endpoint) => endpoint.tenantId === null }),
    url: t.exposeString('url'),
    eventTypes: t.exposeStringList('eventTypes', { description: 'Event types or families (user.*) delivered; empty: every type.' }),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.exposeString('disabledReason', { nullable: true, description: 'Why idgraph disabled it (repeated failures); cleared when it is enabled again.' }),
    consecutiveFailures: t.exposeInt('consecutiveFailures', { description: 'Deliveries that failed after every retry since the last successful one.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a delivery stands.',
  values: {
    PENDING: { value: 'pending', description: 'Waiting for its first attempt or for a retry.' },
    SENT: { value: 'sent', description: 'The endpoint answered 2xx.' },
    FAILED: { value: 'failed', description: 'Every attempt failed; replayWebhookDelivery sends it again.' },
  } as const,
});

const WebhookDeliveryRef = builder.prismaObject('Outbox', {
  interfaces: [NodeRef],
  name: 'WebhookDelivery',
  description: 'One event sent (or to be sent) to one webhook endpoint.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: WebhookDeliveryStatus }),
    attempts: t.exposeInt('attempts'),
    lastResponseStatus: t.exposeInt('lastResponseStatus', { nullable: true, description: 'The HTTP status of the last attempt; null when it got no answer.' }),
    lastError: t.exposeString('lastError', { nullable: true }),
    eventId: t.exposeID('eventId'),
    eventType: t.string({ select: { event: { select: { type: true } } }, resolve: (row) => row.event.type }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  description: 'Where to POST events, and which events.',
  fields: (t) => ({
    tenantId: t.id({ required: false, description: "The tenant whose events it gets (webhooks:manage there); omitted: every event of the realm (realm admins)." }),
    url: t.string({ required: true, description: 'https, at most 2048 characters, no credentials; its host must resolve to public addresses.' }),
    eventTypes: t.stringList({ required: false, description: 'Event types (tenant.created) or families (user.*); empty or omitted: every type.' }),
  }),
});
const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'The endpoint and what to change (omitted fields stay).',
  fields: (t) => ({
    endpointId: t.id({ required: true }),
    url: t.string({ required: false }),
    eventTypes: t.stringList({ required: false }),
    enabled: t.boolean({ required: false, description: 'Enabling it again clears disabledReason and the failure count.' }),
  }),
});
const WebhookEndpointIdInput = builder.inputType('WebhookEndpointIdInput', { description: 'A webhook endpoint, by id.', fields: (t) => ({ endpointId: t.id({ required: true }) }) });
const ReplayWebhookDeliveryInput = builder.inputType('ReplayWebhookDeliveryInput', { description: 'The delivery to send again.', fields: (t) => ({ deliveryId: t.id({ required: true }) }) });

const endpointWithSecret = (name: string, description: string, secretDescription: string) =>
  builder.objectRef<{ endpoint: WebhookEndpoint; secret: string }>(name).implement({
    description,
    fields: (t) => ({
      endpoint: t.field({ type: WebhookEndpointRef, resolve: (p) => p.endpoint }),
      secret: t.exposeString('secret', { description: secretDescription }),
    }),
  });
const CreateWebhookEndpointPayload = endpointWithSecret(
  'CreateWebhookEndpointPayload',
  'The new endpoint and its signing secret, shown once.',
  'The signing secret (whsec_…), for the receiver to verify webhook-signature with. Shown this once.',
);
const RotateWebhookSecretPayload = endpointWithSecret(
  'RotateWebhookSecretPayload',
  'The endpoint and its new signing secret, shown once.',
  'The new signing secret, shown this once; deliveries are signed with it from now on, and no longer with the previous one.',
);
const ReplayWebhookDeliveryPayload = builder.objectRef<Outbox>('ReplayWebhookDeliveryPayload').implement({
  description: 'The delivery, pending again.',
  fields: (t) => ({ delivery: t.field({ type: WebhookDeliveryRef, resolve: (delivery) => delivery }) }),
});
const WebhookEndpointPayload = builder.objectRef<WebhookEndpoint>('WebhookEndpointPayload').implement({
  description: 'The endpoint after the change.',
  fields: (t) => ({ endpoint: t.field({ type: WebhookEndpointRef, resolve: (endpoint) => endpoint }) }),
});

const WebhookEndpointConnection = connectionType(WebhookEndpointRef, 'WebhookEndpoint');
const WebhookDeliveryConnection = connectionType(WebhookDeliveryRef, 'WebhookDelivery');

builder.queryFields((t) => ({
  webhookEndpoints: t.prismaConnection(
    {
      type: 'WebhookEndpoint',
      cursor: 'id',
      description: "A tenant's webhook endpoints (webhooks:manage); without tenantId, the realm-wide ones (realm admins).",
      args: { tenantId: t.arg.id({ required: false, description: 'The tenant; omitted: the realm-wide endpoints.' }) },
      ...fromListing(({ tenantId }: { tenantId?: string | number | null }, ctx) =>
        ctx.services.webhooks.listEndpoints({ tenantId: tenantId == null ? null : String(tenantId) }, ctx.caller),
      ),
    },
    WebhookEndpointConnection,
  ),
  webhookDeliveries: t.prismaConnection(
    {
      type: 'Outbox',
      cursor: 'id',
      description: "An endpoint's deliveries, newest first (who may manage the endpoint).",
      args: { endpointId: t.arg.id({ required: true, description: 'The endpoint.' }) },
      ...fromListing(({ endpointId }: { endpointId: string | number }, ctx) => ctx.services.webhooks.listDeliveries({ endpointId: String(endpointId) }, ctx.caller)),
    },
    WebhookDeliveryConnection,
  ),
}));

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: CreateWebhookEndpointPayload,
    description: 'A new webhook endpoint and its signing secret, shown once.',
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.webhooks.createEndpoint({ ...input, tenantId: input.tenantId == null ? null : String(input.tenantId) }, ctx.caller),
  }),
  updateWebhookEndpoint: t.field({
    type: WebhookEndpointPayload,
    description: "Changes an endpoint's URL or event types, or enables or disables it.",
    args: { input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webhooks.updateEndpoint({ ...input, endpointId: String(input.endpointId) }, ctx.caller),
  }),
  rotateWebhookSecret: t.field({
    type: RotateWebhookSecretPayload,
    description: "Replaces an endpoint's signing secret and returns the new one, once.",
    args: { input: t.arg({ type: WebhookEndpointIdInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webhooks.rotateSecret({ endpointId: String(input.endpointId) }, ctx.caller),
  }),
  deleteWebhookEndpoint: t.field({
    type: WebhookEndpointPayload,
    description: 'Removes an endpoint and its delivery history.',
    args: { input: t.arg({ type: WebhookEndpointIdInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webhooks.deleteEndpoint({ endpointId: String(input.endpointId) }, ctx.caller),
  }),
  replayWebhookDelivery: t.field({
    type: ReplayWebhookDeliveryPayload,
    description: 'Sends a sent or failed delivery again, with fresh attempts.',
    args: { input: t.arg({ type: ReplayWebhookDeliveryInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webhooks.replayDelivery({ deliveryId: String(input.deliveryId) }, ctx.caller),
  }),
}));
