-- varchar(50) to varchar(200) changes metadata only: no rewrite.
ALTER TABLE users ALTER COLUMN name TYPE varchar(200), ALTER COLUMN price TYPE numeric(12, 2);
