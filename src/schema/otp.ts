import type { Otp } from '../generated/prisma/client.js';
import { otpStatus } from '../services/otp.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';

const OtpStatus = builder.enumType('OtpStatus', {
  description: 'CONSUMED once verified; LOCKED after maxAttempts wrong values; EXPIRED past expiresAt or superseded by a newer code.',
  values: { ACTIVE: { value: 'active' }, CONSUMED: { value: 'consumed' }, EXPIRED: { value: 'expired' }, LOCKED: { value: 'locked' } } as const,
});

export const OtpRef = builder.prismaObject('Otp', {
  interfaces: [NodeRef],
  description: 'A one-time code bound to a tenant, a subject reference and a purpose. Its value is shown once, by issueOtp; only a salted, peppered hash is kept.',
  fields: (t) => ({
    id: t.exposeID('id'),
    subjectRef: t.exposeString('subjectRef', { description: 'The partner-side entity the code is bound to.' }),
    purpose: t.exposeString('purpose'),
    issuedAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    attempts: t.exposeInt('attempts', { description: 'Wrong values presented so far.' }),
    maxAttempts: t.exposeInt('maxAttempts'),
    consumedAt: t.expose('consumedAt', { type: 'DateTime', nullable: true }),
    status: t.field({ type: OtpStatus, resolve: (otp, _args, ctx) => otpStatus(otp, ctx.now()) }),
    issuedBy: t.prismaField({
      type: 'User',
      nullable: true,
      description: 'The member who issued the code (for an API key, its owner).',
      resolve: (query, otp, _args, ctx) => ctx.prisma.user.findUnique({ ...query, where: { id: otp.issuerId } }),
    }),
    consumedBy: t.prismaField({
      type: 'User',
      nullable: true,
      description: 'Who presented the matching value.',
      resolve: (query, otp, _args, ctx) => (otp.consumedById ? ctx.prisma.user.findUnique({ ...query, where: { id: otp.consumedById } }) : null),
    }),
  }),
});

const IssueOtpInput = builder.inputType('IssueOtpInput', {
  description: 'The subject and purpose a new code is bound to, and its lifetime, length and attempt budget.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    subjectRef: t.string({ required: true, description: '1 to 256 printable characters without spaces.' }),
    purpose: t.string({ required: true, description: 'Matches ^[a-z][a-z0-9_]{0,63}$.' }),
    ttlSeconds: t.int({ required: false, defaultValue: 300, description: '30 to 3600 (default 300).' }),
    digits: t.int({ required: false, defaultValue: 6, description: '6 to 10 (default 6).' }),
    maxAttempts: t.int({ required: false, defaultValue: 5, description: 'Wrong values allowed before the code locks: 1 to 10 (default 5).' }),
  }),
});
const ConsumeOtpInput = builder.inputType('ConsumeOtpInput', {
  description: 'The subject, purpose and value presented, for the newest code of the tenant that matches.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    subjectRef: t.string({ required: true }),
    purpose: t.string({ required: true }),
    presented: t.string({ required: true, description: 'The value the end user typed.' }),
  }),
});

const IssueOtpPayload = builder.objectRef<{ otp: Otp; value: string }>('IssueOtpPayload').implement({
  description: 'The code’s metadata and its value, shown this once.',
  fields: (t) => ({
    otp: t.field({ type: OtpRef, resolve: (payload) => payload.otp }),
    value: t.exposeString('value', { description: 'The code itself: returned this once and never again.' }),
  }),
});
const ConsumeOtpPayload = builder.objectRef<{ otp: Otp }>('ConsumeOtpPayload').implement({
  description: 'The code, now CONSUMED.',
  fields: (t) => ({ otp: t.field({ type: OtpRef, resolve: (payload) => payload.otp }) }),
});

builder.queryField('viewOtp', (t) =>
  t.prismaField({
    type: 'Otp',
    nullable: true,
    description: "An OTP's metadata, for its issuer only. Anyone else gets null with not_found, as for an id that does not exist; the rest of the response stands.",
    args: { id: t.arg.id({ required: true, description: 'The code’s id, as issueOtp returned it.' }) },
    resolve: (query, _root, { id }, ctx) => ctx.services.otp.viewOtp({ id: String(id) }, ctx.caller, query),
  }),
);

builder.mutationFields((t) => ({
  issueOtp: t.field({
    type: IssueOtpPayload,
    description: 'Issues a code for a subject and purpose (otp:issue); an open code for the same pair is superseded.',
    args: { input: t.arg({ type: IssueOtpInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.otp.issueOtp({ ...input, tenantId: String(input.tenantId) }, ctx.caller),
  }),
  consumeOtp: t.field({
    type: ConsumeOtpPayload,
    description: 'Consumes the newest code for a subject and purpose when the value matches (otp:verify); at most one caller succeeds.',
    args: { input: t.arg({ type: ConsumeOtpInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.otp.consumeOtp({ ...input, tenantId: String(input.tenantId) }, ctx.caller),
  }),
}));
