-- Wakes the readers that tail the event log (the auditEvents and viewerSecurityEvents subscriptions) on every
-- replica: one notification per statement that appends, carrying the highest position it wrote. Delivered at
-- commit, so a listener reading `position > last` then sees the new rows (appends commit in position order,
-- see idgraph_append_event). The payload is a hint: readers also poll, and re-read after a reconnection.
CREATE FUNCTION "idgraph_notify_events"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  newest bigint;
BEGIN
  SELECT max(position) INTO newest FROM appended;
  IF newest IS NOT NULL THEN
    PERFORM pg_notify('idgraph_events', newest::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER "events_notify"
  AFTER INSERT ON "events"
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION "idgraph_notify_events"();
