-- PostgreSQL DDL is transactional: several statements in one file are fine.
BEGIN;
ALTER TABLE users ADD COLUMN locale text;
ALTER TABLE users ADD COLUMN timezone text;
COMMIT;
