ALTER TABLE users DROP COLUMN avatar_url; -- cutover:allow drop-column reason="unused since v41"
ALTER TABLE users DROP COLUMN banner_url;
