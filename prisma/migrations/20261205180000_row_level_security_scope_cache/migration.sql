-- Row-level security: the scope's tenants computed once per statement, with a plan kept per connection.
--
-- The policies (migration 20261205143500_row_level_security) call idgraph_scope_tenant_ids(scope) in a sub-select,
-- so it runs once per table reference of a statement rather than once per row. But a statement names several
-- tenant-scoped tables (Prisma's relation joins and lateral sub-queries: memberships, their tenants, their
-- tenants' memberships...), so it still ran two to five times per statement, and as a SQL function with SET
-- clauses it cannot be inlined: each run parsed and planned its body again (about 0.7 ms each).
--
-- Now:
-- - idgraph_compute_scope_tenant_ids(scope) does the work, in PL/pgSQL, whose plans a connection keeps;
-- - idgraph_scope_tenant_ids(scope), the function the policies call, returns the result the same statement
--   already computed for the same scope, else computes it. The result is kept in the transaction-local setting
--   "idgraph.scope_tenant_ids", keyed by the scope and statement_timestamp(): the next statement of a transaction
--   computes it again, so it sees memberships its transaction (or another that committed) changed since, as
--   before. What a scope may see is unchanged.
-- A caller who can set "idgraph.scope_tenant_ids" can also set "idgraph.scope" to 'system': the settings are the
-- application's to set (SECURITY.md, "Row-level security"), and neither is an end user's.

-- The tenants a scope may see. It runs as its owner with the scope set to 'system', so its own reads of
-- memberships and tenants are not filtered by the policies that call it (no recursion).
CREATE FUNCTION "idgraph_compute_scope_tenant_ids"(p_scope text) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public SET idgraph.scope = 'system' SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_user uuid;
  v_tenant uuid;
BEGIN
  IF p_scope LIKE 'user:%' AND split_part(p_scope, ':', 2) ~ '^[0-9a-f-]{36}$' THEN
    v_user := split_part(p_scope, ':', 2)::uuid;
    RETURN ARRAY(
      SELECT m.tenant_id FROM memberships m WHERE m.user_id = v_user
      UNION
      SELECT t.id FROM tenants t
      WHERE t.realm_id IN (
        SELECT a.realm_id FROM tenants a
        JOIN memberships am ON am.tenant_id = a.id
        JOIN roles r ON r.id = am.role_id
        WHERE am.user_id = v_user
          AND a.is_base_admin AND a.deleted_at IS NULL
          AND 'tenant:write' = ANY (r.permissions)
      )
    );
  ELSIF p_scope LIKE 'key:%' AND split_part(p_scope, ':', 2) ~ '^[0-9a-f-]{36}$' AND split_part(p_scope, ':', 3) ~ '^[0-9a-f-]{36}$' THEN
    v_tenant := split_part(p_scope, ':', 2)::uuid;
    v_user := split_part(p_scope, ':', 3)::uuid;
    RETURN ARRAY(SELECT m.tenant_id FROM memberships m WHERE m.tenant_id = v_tenant AND m.user_id = v_user);
  END IF;
  RETURN '{}'::uuid[];
END
$$;

-- Called by every policy, as the querying role. No SET clauses: they would undo its set_config at its exit.
-- pg_catalog comes first in every search path, and the one function it calls is named with its schema.
CREATE OR REPLACE FUNCTION "idgraph_scope_tenant_ids"(p_scope text) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
DECLARE
  v_key text := coalesce(p_scope, '') || ' @ ' || statement_timestamp()::text || ' = ';
  v_kept text := current_setting('idgraph.scope_tenant_ids', true);
  v_ids uuid[];
BEGIN
  IF starts_with(v_kept, v_key) THEN
    RETURN substr(v_kept, length(v_key) + 1)::uuid[];
  END IF;
  v_ids := public.idgraph_compute_scope_tenant_ids(p_scope);
  PERFORM set_config('idgraph.scope_tenant_ids', v_key || v_ids::text, true);
  RETURN v_ids;
END
$$;

GRANT EXECUTE ON FUNCTION "idgraph_compute_scope_tenant_ids"(text) TO idgraph_app;
