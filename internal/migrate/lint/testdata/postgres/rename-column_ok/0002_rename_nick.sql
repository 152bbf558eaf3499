ALTER TABLE users RENAME COLUMN nick TO nickname;
