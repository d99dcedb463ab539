-- Row-level security: a second guard behind the services' tenant filters (docs: SECURITY.md).
--
-- idgraph runs the queries it makes on a caller's behalf as the role "idgraph_app" (no BYPASSRLS),
-- with the caller's scope in the transaction-local setting "idgraph.scope":
--   'system'                         work idgraph does for itself (sign-in, provisioning, cleanup)
--   'user:<user uuid>'               the tenants the user belongs to; every tenant of a realm they administer
--   'key:<tenant uuid>:<user uuid>'  an API key: its own tenant, while its owner is still a member
-- Without the setting, or with any other value, no tenant-scoped row is visible or writable.
-- FORCE makes the policies bind the tables' owner too; only superusers and BYPASSRLS roles skip them.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_app') THEN
    CREATE ROLE idgraph_app NOLOGIN NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  -- Another database on this server created it at the same moment.
  NULL;
END
$$;

-- The connecting (migrating) role switches to idgraph_app inside each scoped transaction.
DO $$
BEGIN
  EXECUTE format('GRANT idgraph_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
  -- A superuser needs no grant; a role that may not grant membership must be granted it by an administrator.
  NULL;
END
$$;

-- Work idgraph does for itself runs in the 'system' scope: the connecting role's default in this database
-- (idgraph also sends it when it opens a connection). A role that connects for the application but did not
-- run the migrations needs the same: ALTER ROLE <role> IN DATABASE <db> SET idgraph.scope = 'system'.
DO $$
BEGIN
  EXECUTE format('ALTER ROLE %I IN DATABASE %I SET idgraph.scope = %L', current_user, current_database(), 'system');
EXCEPTION WHEN OTHERS THEN
  NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO idgraph_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO idgraph_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO idgraph_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO idgraph_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO idgraph_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO idgraph_app;

-- The tenants a scope may see. It runs as its owner with the scope set to 'system', so its own reads of
-- memberships and tenants are not filtered by the policies that call it (no recursion).
CREATE FUNCTION "idgraph_scope_tenant_ids"(p_scope text) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public SET idgraph.scope = 'system' AS $$
  SELECT CASE
    WHEN p_scope LIKE 'user:%' AND split_part(p_scope, ':', 2) ~ '^[0-9a-f-]{36}$' THEN ARRAY(
      SELECT m.tenant_id FROM memberships m WHERE m.user_id = split_part(p_scope, ':', 2)::uuid
      UNION
      SELECT t.id FROM tenants t
      WHERE t.realm_id IN (
        SELECT a.realm_id FROM tenants a
        JOIN memberships am ON am.tenant_id = a.id
        JOIN roles r ON r.id = am.role_id
        WHERE am.user_id = split_part(p_scope, ':', 2)::uuid
          AND a.is_base_admin AND a.deleted_at IS NULL
          AND 'tenant:write' = ANY (r.permissions)
      )
    )
    WHEN p_scope LIKE 'key:%' AND split_part(p_scope, ':', 2) ~ '^[0-9a-f-]{36}$' AND split_part(p_scope, ':', 3) ~ '^[0-9a-f-]{36}$' THEN ARRAY(
      SELECT m.tenant_id FROM memberships m
      WHERE m.tenant_id = split_part(p_scope, ':', 2)::uuid AND m.user_id = split_part(p_scope, ':', 3)::uuid
    )
    ELSE '{}'::uuid[]
  END
$$;

-- Every statement on a tenant-scoped table passes the guard: for tenants their own id, elsewhere tenant_id.
-- The scope's tenants are computed once per statement (an InitPlan), not once per row.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES
    ('tenants', 'id'), ('memberships', 'tenant_id'), ('invitations', 'tenant_id'), ('api_keys', 'tenant_id'),
    ('domains', 'tenant_id'), ('otps', 'tenant_id'), ('session_tenants', 'tenant_id')
  ) AS v(name, key) LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
    EXECUTE format(
      $policy$CREATE POLICY "tenant_guard" ON %I USING (
        current_setting('idgraph.scope', true) = 'system'
        OR %I = ANY ((SELECT idgraph_scope_tenant_ids(current_setting('idgraph.scope', true)))::uuid[]))$policy$,
      t.name, t.key);
  END LOOP;
END
$$;

-- Events: a tenant's events are read under the same rule; realm-wide events (no tenant) are the
-- services' to filter. Appending is open to every scope: the append function reads an aggregate's
-- versions across tenants, so it runs with the 'system' scope.
ALTER TABLE "events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_guard_read" ON "events" FOR SELECT
  USING (current_setting('idgraph.scope', true) = 'system' OR tenant_id IS NULL OR tenant_id = ANY ((SELECT idgraph_scope_tenant_ids(current_setting('idgraph.scope', true)))::uuid[]));
CREATE POLICY "append" ON "events" FOR INSERT WITH CHECK (true);
ALTER FUNCTION "idgraph_append_event"(uuid, text, text, text, jsonb, jsonb, uuid, uuid, text[]) SET idgraph.scope = 'system';
