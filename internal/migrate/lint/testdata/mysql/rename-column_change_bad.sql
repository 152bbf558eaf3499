# CHANGE renames and restates the column in one go.
ALTER TABLE users CHANGE name full_name VARCHAR(100) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;
