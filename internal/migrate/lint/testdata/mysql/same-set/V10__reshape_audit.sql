-- audit_log is created by V2 in this set (V2 runs before V10).
ALTER TABLE audit_log DROP COLUMN action, ADD COLUMN verb VARCHAR(32) NOT NULL, RENAME COLUMN actor TO user_ref;
