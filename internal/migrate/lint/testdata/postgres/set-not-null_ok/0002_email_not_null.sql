-- email is NOT NULL already (see the applied migration): nothing changes.
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
