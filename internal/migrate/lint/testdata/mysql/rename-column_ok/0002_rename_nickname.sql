-- The column was added by the pending set: no version uses it yet.
ALTER TABLE users RENAME COLUMN nick TO nickname, ALGORITHM=INSTANT;
