-- cutover:phase expand
-- cutover:allow mysql-online-ddl reason="the table has 30 rows; a copy takes milliseconds"
ALTER TABLE feature_flags ADD COLUMN owner VARCHAR(64) NULL;
