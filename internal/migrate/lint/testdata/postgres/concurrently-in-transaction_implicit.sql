CREATE INDEX CONCURRENTLY events_user_idx ON events (user_id);
DROP INDEX CONCURRENTLY events_old_user_idx;
