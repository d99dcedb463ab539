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

  it('realm returns the default realm with a global id', async () => {
    const { status, body } = await t.execute(RealmDocument);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.realm).toMatchObject({ slug: 'default', displayName: 'Default realm' });
    const realm = await t.app.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' } });
    expect(Buffer.from(body.data!.realm.id, 'base64').toString()).toBe(`Realm:${realm.id}`);
  });

  it('node(id) resolves a realm by its global id, in one SQL statement', async () => {
    const { body: realm } = await t.execute(RealmDocument);
    let result!: Awaited<ReturnType<typeof t.execute<unknown, { id: string }>>>;
    const statements = await t.countStatements(async () => {
      result = await t.execute(NodeDocument, { id: realm.data!.realm.id });
    });
    expect(result.body.data).toEqual({ node: { id: realm.data!.realm.id, slug: 'default' } });
    expect(statements).toBe(1);
  });

  it('node(id) with an id of nothing returns null; a malformed id is bad_request', async () => {
    const missing = Buffer.from(`Realm:${crypto.randomUUID()}`).toString('base64');
    expect((await t.execute(NodeDocument, { id: missing })).body.data).toEqual({ node: null });
    for (const id of ['not-a-global-id', Buffer.from('Realm:not-a-uuid').toString('base64')]) {
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
