-- A constant default: instant since PostgreSQL 11, and old INSERTs get it.
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT 0;
