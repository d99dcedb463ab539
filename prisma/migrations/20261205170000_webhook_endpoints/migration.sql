-- AlterTable
ALTER TABLE "outbox" ADD COLUMN     "last_response_status" INTEGER;

-- CreateTable
CREATE TABLE "webhook_endpoints" (
    "id" UUID NOT NULL,
    "realm_id" UUID NOT NULL,
    "tenant_id" UUID,
    "url" TEXT NOT NULL,
    "event_types" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "secret" TEXT NOT NULL,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "disabled_reason" TEXT,
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "outbox_destination_created_at_idx" ON "outbox"("destination", "created_at");

-- CreateIndex
CREATE INDEX "webhook_endpoints_realm_id_tenant_id_idx" ON "webhook_endpoints"("realm_id", "tenant_id");

-- AddForeignKey
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_realm_id_fkey" FOREIGN KEY ("realm_id") REFERENCES "realms"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Row-level security, as on events: a tenant's endpoints under the tenant rule; realm-wide endpoints
-- (no tenant) are the services' to guard (realm admins only).
ALTER TABLE "webhook_endpoints" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_endpoints" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_guard" ON "webhook_endpoints" USING (
  current_setting('idgraph.scope', true) = 'system'
  OR tenant_id IS NULL
  OR tenant_id = ANY ((SELECT idgraph_scope_tenant_ids(current_setting('idgraph.scope', true)))::uuid[]));

-- The append also queues the event for every enabled webhook endpoint that takes it: a tenant's endpoints
-- its events, realm-wide endpoints every event the realm's audit log shows (the realm's, its tenants', and
-- the identity events that belong to no realm or tenant), each filtered by its event types (empty: all;
-- "prefix.*": every type under the prefix). Still one statement under the append lock.
CREATE OR REPLACE FUNCTION "idgraph_append_event"(
  p_id uuid,
  p_aggregate_type text,
  p_aggregate_id text,
  p_type text,
  p_payload jsonb,
  p_metadata jsonb,
  p_realm_id uuid,
  p_tenant_id uuid,
  p_destinations text[]
) RETURNS SETOF "events" LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7419052318224);
  RETURN QUERY
  WITH e AS (
    INSERT INTO "events" (id, aggregate_type, aggregate_id, version, type, payload, metadata, realm_id, tenant_id)
    SELECT p_id, p_aggregate_type, p_aggregate_id, COALESCE(MAX(ev.version), 0) + 1, p_type, p_payload, p_metadata, p_realm_id, p_tenant_id
    FROM "events" ev
    WHERE ev.aggregate_type = p_aggregate_type AND ev.aggregate_id = p_aggregate_id
    RETURNING *
  ), d AS (
    SELECT unnest(p_destinations) AS destination
    UNION
    SELECT 'webhook:' || w.id FROM "webhook_endpoints" w
    WHERE w.enabled
      AND (
        w.tenant_id = p_tenant_id
        OR (w.tenant_id IS NULL AND (
          w.realm_id = p_realm_id
          OR (p_realm_id IS NULL AND p_tenant_id IS NULL)
          OR (p_realm_id IS NULL AND w.realm_id = (SELECT t.realm_id FROM "tenants" t WHERE t.id = p_tenant_id))
        ))
      )
      AND (
        COALESCE(cardinality(w.event_types), 0) = 0
        OR EXISTS (
          SELECT 1 FROM unnest(w.event_types) AS pattern
          WHERE pattern = p_type OR (pattern LIKE '%.*' AND starts_with(p_type, left(pattern, -1)))
        )
      )
  ), o AS (
    INSERT INTO "outbox" (id, event_id, destination, updated_at)
    SELECT gen_random_uuid(), e.id, d.destination, now() FROM e, d
  )
  SELECT * FROM e;
END
$$;
-- CREATE OR REPLACE keeps the function's settings only when they are given again.
ALTER FUNCTION "idgraph_append_event"(uuid, text, text, text, jsonb, jsonb, uuid, uuid, text[]) SET idgraph.scope = 'system';

-- webhooks:manage is a built-in permission: existing owner roles get it, as new realms' owner roles do.
UPDATE "roles" SET "permissions" = array_append("permissions", 'webhooks:manage')
WHERE "system" AND "name" = 'owner' AND NOT ('webhooks:manage' = ANY ("permissions"));
