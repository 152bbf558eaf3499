-- ALGORITHM and LOCK are MySQL's; PostgreSQL adds a nullable column instantly.
ALTER TABLE users ADD COLUMN last_seen_at timestamptz;
