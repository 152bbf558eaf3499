-- +goose Up
ALTER TABLE users ADD COLUMN locale VARCHAR(10) NULL, ALGORITHM=INSTANT;

-- +goose Down
ALTER TABLE users DROP COLUMN locale;
