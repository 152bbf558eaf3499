-- No earlier migration says what bio was: the lint cannot compare.
ALTER TABLE users MODIFY COLUMN bio TEXT NULL, ALGORITHM=INPLACE, LOCK=NONE;
