-- A backfill in a transaction: no DDL, nothing for the lint.
START TRANSACTION;
UPDATE users SET tenant_id = 1 WHERE tenant_id = 0 LIMIT 1000;
COMMIT;
