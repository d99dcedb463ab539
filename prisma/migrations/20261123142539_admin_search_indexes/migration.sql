-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "pg_trgm";

-- CreateIndex
CREATE INDEX "events_occurred_at_idx" ON "events"("occurred_at");

-- CreateIndex
CREATE INDEX "realms_slug_prefix_idx" ON "realms" USING SPGIST ("slug");

-- CreateIndex
CREATE INDEX "realms_display_name_trgm_idx" ON "realms" USING GIST ("display_name" gist_trgm_ops);

-- CreateIndex
CREATE INDEX "tenants_slug_prefix_idx" ON "tenants" USING SPGIST ("slug");

-- CreateIndex
CREATE INDEX "tenants_display_name_trgm_idx" ON "tenants" USING GIST ("display_name" gist_trgm_ops);

-- CreateIndex
CREATE INDEX "users_email_prefix_idx" ON "users" USING SPGIST ("email");

-- CreateIndex
CREATE INDEX "users_display_name_trgm_idx" ON "users" USING GIST ("display_name" gist_trgm_ops);
