-- AlterTable
ALTER TABLE "session_tenants" ADD COLUMN     "claims" JSONB NOT NULL DEFAULT '{}';
