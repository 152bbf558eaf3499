-- cutover:phase contract
ALTER TABLE users ALTER COLUMN phone SET NOT NULL;
