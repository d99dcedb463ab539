import type { Domain } from '../generated/prisma/client.js';
import { type DomainInstructions, domainInstructions } from '../services/domain-verifier.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';

const DomainMethod = builder.enumType('DomainMethod', {
  description: 'How a claim proves control of the domain.',
  values: {
    DNS_TXT: { value: 'dns_txt', description: 'A TXT record at _idgraph-challenge.<domain>.' },
    HTML_FILE: { value: 'html_file', description: 'A file at https://<domain>/.well-known/idgraph-challenge.txt.' },
  } as const,
});
const DomainStatus = builder.enumType('DomainStatus', {
  description: 'PENDING until the published challenge is checked; VERIFIED after.',
  values: { PENDING: { value: 'pending' }, VERIFIED: { value: 'verified' } } as const,
});

const DomainInstructionsRef = builder.objectRef<DomainInstructions>('DomainInstructions').implement({
  description: "What to publish to prove control of the domain: the DNS pair for DNS_TXT, the file pair for HTML_FILE (the other pair is null).",
  fields: (t) => ({
    dnsRecordName: t.exposeString('dnsRecordName', { nullable: true }),
    dnsRecordValue: t.exposeString('dnsRecordValue', { nullable: true }),
    fileUrl: t.exposeString('fileUrl', { nullable: true }),
    fileContent: t.exposeString('fileContent', { nullable: true }),
  }),
});

export const DomainRef = builder.prismaObject('Domain', {
  interfaces: [NodeRef],
  description: 'A domain a tenant claims; once VERIFIED it belongs to that tenant within the realm and serves allowlist auto-join.',
  fields: (t) => ({
    id: t.exposeID('id'),
    domain: t.exposeString('domain'),
    method: t.expose('method', { type: DomainMethod }),
    status: t.expose('status', { type: DomainStatus }),
    challenge: t.exposeString('challenge', { description: 'Public by design: it is published in DNS or on the web server.' }),
    verifiedAt: t.expose('verifiedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    instructions: t.field({ type: DomainInstructionsRef, resolve: (domain) => domainInstructions(domain) }),
  }),
});

const ClaimDomainInput = builder.inputType('ClaimDomainInput', {
  description: 'The domain a tenant claims, and how it will prove control.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    domain: t.string({ required: true, description: 'A domain name such as example.com (lowercased).' }),
    method: t.field({ type: DomainMethod, required: false, defaultValue: 'dns_txt' }),
  }),
});
const VerifyDomainInput = builder.inputType('VerifyDomainInput', {
  description: 'The claim to check.',
  fields: (t) => ({ domainId: t.id({ required: true }) }),
});

const domainPayload = (name: string, description: string) =>
  builder.objectRef<{ domain: Domain }>(name).implement({
    description,
    fields: (t) => ({ domain: t.field({ type: DomainRef, resolve: (payload) => payload.domain }) }),
  });
const ClaimDomainPayload = domainPayload('ClaimDomainPayload', 'The claim, with what to publish to verify it.');
const VerifyDomainPayload = domainPayload('VerifyDomainPayload', 'The claim, VERIFIED when the challenge was found.');

const DomainConnection = connectionType(DomainRef, 'Domain');

builder.queryField('domains', (t) =>
  t.prismaConnection(
    {
      type: 'Domain',
      cursor: 'id',
      description: "A tenant's claimed and verified domains (domains:manage).",
      args: { tenantId: t.arg.id({ required: true, description: 'The tenant.' }) },
      ...fromListing(({ tenantId }: { tenantId: string | number }, ctx) => ctx.services.domains.listDomains({ tenantId: String(tenantId) }, ctx.caller)),
    },
    DomainConnection,
  ),
);

builder.mutationFields((t) => ({
  claimDomain: t.field({
    type: ClaimDomainPayload,
    description: 'Claims a domain for a tenant (domains:manage) and returns what to publish. Idempotent.',
    args: { input: t.arg({ type: ClaimDomainInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.domains.claimDomain({ ...input, tenantId: String(input.tenantId) }, ctx.caller),
  }),
  verifyDomain: t.field({
    type: VerifyDomainPayload,
    description: "Checks the published challenge of a claim (domains:manage in the claim's tenant) and marks the domain verified.",
    args: { input: t.arg({ type: VerifyDomainInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.domains.verifyDomain({ domainId: String(input.domainId) }, ctx.caller),
  }),
}));
