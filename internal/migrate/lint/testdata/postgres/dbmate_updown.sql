-- migrate:up
ALTER TABLE users ADD COLUMN locale text;

-- migrate:down
ALTER TABLE users DROP COLUMN locale;
