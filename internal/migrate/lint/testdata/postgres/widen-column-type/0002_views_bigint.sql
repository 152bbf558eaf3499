ALTER TABLE users ALTER COLUMN views TYPE bigint;
