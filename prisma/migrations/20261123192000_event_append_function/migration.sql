-- Appends one event, with the next version of its aggregate, and one pending outbox row per destination.
-- The advisory lock is held until the calling transaction ends: it serialises appends, which gives each
-- aggregate a gapless version sequence and makes positions commit in increasing order (cursor-based replay
-- relies on it). The function is VOLATILE, so its INSERT takes a snapshot after the lock is granted and sees
-- every earlier append: lock and append cost the caller one statement.
CREATE FUNCTION "idgraph_append_event"(
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
  ), o AS (
    INSERT INTO "outbox" (id, event_id, destination, updated_at)
    SELECT gen_random_uuid(), e.id, d, now() FROM e, unnest(p_destinations) AS d
  )
  SELECT * FROM e;
END
$$;
