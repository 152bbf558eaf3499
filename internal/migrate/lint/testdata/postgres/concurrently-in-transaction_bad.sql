BEGIN;
CREATE INDEX CONCURRENTLY events_user_idx ON events (user_id);
COMMIT;
