-- One ALTER for several changes, then data: one implicit commit.
ALTER TABLE users
  ADD COLUMN locale VARCHAR(10) NULL,
  ADD COLUMN timezone VARCHAR(40) NULL,
  ALGORITHM=INSTANT;
UPDATE users SET locale = 'en' WHERE locale IS NULL;
