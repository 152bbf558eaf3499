-- MariaDB's NOCOPY is not in the MySQL grammar: a warning, not a crash.
ALTER TABLE users ADD COLUMN flags INT NULL, ALGORITHM=NOCOPY;
