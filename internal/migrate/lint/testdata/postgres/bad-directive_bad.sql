-- cutover:phase contact
ALTER TABLE users DROP COLUMN avatar_url;
