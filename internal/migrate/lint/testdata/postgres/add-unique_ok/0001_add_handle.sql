ALTER TABLE users ADD COLUMN handle text;
