-- Appending a value keeps every old one: INSTANT on MySQL 8 and MariaDB.
ALTER TABLE users MODIFY status ENUM('active', 'suspended', 'deleted', 'archived') NOT NULL DEFAULT 'active', ALGORITHM=INSTANT;
