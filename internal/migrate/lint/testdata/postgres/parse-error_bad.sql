ALTER TABLE users ADD COLUM nickname text;
ALTER TABLE users DROP COLUMN legacy_flag;
