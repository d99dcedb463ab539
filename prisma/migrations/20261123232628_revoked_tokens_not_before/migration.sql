-- AlterTable
ALTER TABLE "revoked_tokens" ADD COLUMN     "not_before" TIMESTAMPTZ(3);
