-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS events_old_user_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY events_old_user_idx ON events (user_id);
