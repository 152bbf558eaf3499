-- varchar(50) to text: a widening that changes metadata only.
ALTER TABLE users ALTER COLUMN name TYPE text;
