-- Wakes the outbox relays: one notification per statement that queues outbox rows, sent when its transaction
-- commits (so a relay never looks before the rows are visible). Relays also poll, so a lost notification
-- only delays delivery.
CREATE FUNCTION "idgraph_notify_outbox"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('idgraph_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER "outbox_notify" AFTER INSERT ON "outbox" FOR EACH STATEMENT EXECUTE FUNCTION "idgraph_notify_outbox"();

-- CreateTable
CREATE TABLE "auth_events" (
    "event_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "payload" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "auth_events_pkey" PRIMARY KEY ("event_id")
);

-- CreateIndex
CREATE INDEX "auth_events_aggregate_type_aggregate_id_version_idx" ON "auth_events"("aggregate_type", "aggregate_id", "version");
