import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSchema } from '../../src/schema/index.js';
import { HealthDocument, NodeDocument, RealmDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('schema', () => {
  it('schema.graphql is the schema printed from the code (run npm run schema:print)', () => {
    expect(fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')).toBe(printSchema());
  });

  it('is a federation 2 subgraph', () => {
    expect(printSchema()).toContain('@link(url: "https://specs.apollo.dev/federation/v2.6"');
  });

  it('realm returns the default realm; its id is its UUID', async () => {
    const { status, body } = await t.execute(RealmDocument);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.realm).toMatchObject({ slug: 'default', displayName: 'Default realm' });
    const realm = await t.app.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' } });
    expect(body.data!.realm.id).toBe(realm.id);
  });

  it('node(id) resolves the realm by its id', async () => {
    const { body: realm } = await t.execute(RealmDocument);
    const result = await t.execute(NodeDocument, { id: realm.data!.realm.id });
    expect(result.body).toEqual({ data: { node: { id: realm.data!.realm.id, slug: 'default' } } });
  });

  it('node(id) with an id of nothing is null with not_found; a malformed id, old global ids included, is bad_request', async () => {
    const missing = await t.execute(NodeDocument, { id: crypto.randomUUID() });
    expect(missing.body.data).toEqual({ node: null });
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('not_found');
    for (const id of ['not-a-global-id', Buffer.from(`Realm:${crypto.randomUUID()}`).toString('base64')]) {
      const { body } = await t.execute(NodeDocument, { id });
      expect(body.errors?.[0]?.extensions?.code, id).toBe('bad_request');
      expect(body.data).toEqual({ node: null });
    }
  });

  it('health reports the database, the version and the uptime', async () => {
    const { body } = await t.execute(HealthDocument);
    expect(body.data?.health).toMatchObject({ database: 'UP', version: '0.1.0' });
    expect(body.data!.health.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });
});
