-- CreateTable
CREATE TABLE "session_tenants" (
    "session_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "session_tenants_pkey" PRIMARY KEY ("session_id")
);

-- CreateIndex
CREATE INDEX "session_tenants_user_id_idx" ON "session_tenants"("user_id");
