import { printSubgraphSchema } from '@apollo/subgraph';
import { builder } from './builder.js';
import { entitiesComplexity } from './complexity.js';
import './api-key.js';
import './admin.js';
import './audit.js';
import './auth.js';
import './auth-flows.js';
import './auth-settings.js';
import './domain.js';
import './health.js';
import './membership.js';
import './node.js';
import './otp.js';
import './invitation.js';
import './origin.js';
import './outbox.js';
import './realm.js';
import './role.js';
import './security-events.js';
import './session.js';
import './tenant.js';
import './user.js';
import './viewer.js';
import './webhook.js';

export const schema = builder.toSubGraphSchema({
  linkUrl: 'https://specs.apollo.dev/federation/v2.6',
  federationDirectives: ['@key', '@shareable', '@external', '@requires', '@provides', '@tag', '@inaccessible'],
});

// The federation plugin adds `_entities` after Pothos has given every field its cost: it gets its own here.
const entities = schema.getQueryType()?.getFields()._entities;
if (entities) entities.extensions = { ...entities.extensions, complexity: entitiesComplexity };

/** The SDL committed as schema.graphql: what a gateway composes. */
export function printSchema(): string {
  return `${printSubgraphSchema(schema).trim()}\n`;
}
