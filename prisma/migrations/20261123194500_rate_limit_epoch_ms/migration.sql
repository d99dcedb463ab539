-- rate-limiter-flexible's PostgreSQL store keeps the end of a window as milliseconds since the epoch. Counts are
-- short-lived, so the column is replaced rather than converted; it stays the table's last column, as the store's
-- positional INSERT expects.
ALTER TABLE "rate_limits" DROP COLUMN "expire",
ADD COLUMN "expire" BIGINT;
