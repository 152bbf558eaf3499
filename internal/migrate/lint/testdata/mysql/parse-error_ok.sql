/* Executable comments, backquoted names and a semicolon in a string. */
ALTER TABLE `user settings` ADD COLUMN `motto` VARCHAR(80) NOT NULL DEFAULT 'ship it; then rest', ALGORITHM=INSTANT;
