CREATE TYPE user_status_v2 AS ENUM ('active', 'deleted');
ALTER TABLE users ALTER COLUMN status DROP DEFAULT;
ALTER TABLE users ALTER COLUMN status TYPE user_status_v2 USING status::text::user_status_v2;
