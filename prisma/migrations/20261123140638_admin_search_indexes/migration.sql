-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "pg_trgm";

-- CreateIndex
CREATE INDEX "events_occurred_at_idx" ON "events"("occurred_at");

-- CreateIndex
CREATE INDEX "realms_slug_trgm_idx" ON "realms" USING GIN ("slug" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "realms_display_name_trgm_idx" ON "realms" USING GIN ("display_name" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "tenants_slug_trgm_idx" ON "tenants" USING GIN ("slug" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "tenants_display_name_trgm_idx" ON "tenants" USING GIN ("display_name" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "users_email_trgm_idx" ON "users" USING GIN ("email" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "users_display_name_trgm_idx" ON "users" USING GIN ("display_name" gin_trgm_ops);
