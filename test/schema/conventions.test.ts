import {
  type GraphQLField,
  type GraphQLNamedType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

/** The types idgraph defines: not GraphQL's own, nor those federation adds (_Service, _Any, link__Import, …). */
const ownTypes = Object.values(schema.getTypeMap()).filter(
  (type) => !isIntrospectionType(type) && !isSpecifiedScalarType(type) && !/^(_|link__)/.test(type.name),
);
const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((root) => root != null);
const operations = roots.flatMap((root) =>
  Object.values(root.getFields())
    .filter((field) => !field.name.startsWith('_'))
    .map((field) => ({ name: `${root.name}.${field.name}`, field })),
);
const outputFields = ownTypes.flatMap((type) =>
  isObjectType(type) || isInterfaceType(type)
    ? Object.values(type.getFields() as Record<string, GraphQLField<unknown, unknown>>).map((field) => ({ name: `${type.name}.${field.name}`, field }))
    : [],
);
const named = (field: GraphQLField<unknown, unknown>): GraphQLNamedType => getNamedType(field.type);

describe('schema conventions', () => {
  it('every operation and every type says what it is in the schema itself', () => {
    const undocumented = (description: string | null | undefined) => !description?.trim();
    expect(operations.filter(({ field }) => undocumented(field.description)).map(({ name }) => name)).toEqual([]);
    expect(ownTypes.filter((type) => undocumented(type.description)).map((type) => type.name)).toEqual([]);
    // Arguments too; a mutation's `input` is described by its input type.
    const args = operations.flatMap(({ name, field }) => field.args.filter((arg) => arg.name !== 'input').map((arg) => ({ name: `${name}(${arg.name})`, arg })));
    expect(args.filter(({ arg }) => undocumented(arg.description)).map(({ name }) => name)).toEqual([]);
  });

  it('every connection is <Node>Connection with <Node>Edge and a totalCount: Int!', () => {
    const connections = ownTypes.filter((type) => type.name.endsWith('Connection'));
    expect(connections.length).toBeGreaterThanOrEqual(9);
    for (const connection of connections) {
      if (!isObjectType(connection)) throw new Error(`${connection.name} is not an object type`);
      const fields = connection.getFields();
      const edge = getNamedType(fields.edges!.type);
      const node = isObjectType(edge) ? getNamedType(edge.getFields().node!.type) : null;
      expect(connection.name).toBe(`${node?.name}Connection`);
      expect(edge.name).toBe(`${node?.name}Edge`);
      expect(String(fields.totalCount?.type), connection.name).toBe('Int!');
    }
    // Every field returning a connection uses one of these.
    for (const { name, field } of outputFields) {
      if (named(field).name.endsWith('Connection')) expect(connections, name).toContain(named(field));
    }
  });

  it('one type per concept: every timestamp is a DateTime, every assurance level the enum, no bare id of an entity', () => {
    const timestamps = outputFields.filter(({ field }) => /At$/.test(field.name));
    expect(timestamps.length).toBeGreaterThan(20);
    expect(timestamps.filter(({ field }) => named(field).name !== 'DateTime').map(({ name }) => name)).toEqual([]);
    const levels = outputFields.filter(({ field }) => field.name === 'aal');
    expect(levels.map(({ name, field }) => [name, String(getNullableType(field.type))])).toEqual([
      ['Session.aal', 'AuthenticatorAssuranceLevel'],
      ['Viewer.aal', 'AuthenticatorAssuranceLevel'],
    ]);
    expect(isEnumType(schema.getType('TokenType'))).toBe(true);
    // The references that used to be bare ids are objects now.
    for (const gone of ['Invitation.invitedById', 'AuditEvent.actorId', 'AuditEvent.tenantId', 'WebhookEndpoint.tenantId', 'Viewer.role']) {
      expect(outputFields.map(({ name }) => name)).not.toContain(gone);
    }
    expect(outputFields.filter(({ name }) => ['Invitation.invitedBy', 'AuditEvent.actor'].includes(name)).map(({ field }) => String(field.type))).toEqual([
      'User',
      'User',
    ]);
  });
});
