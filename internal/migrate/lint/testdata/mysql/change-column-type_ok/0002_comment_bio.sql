-- Restates bio as it is: nothing changes for the serving version.
ALTER TABLE users MODIFY bio VARCHAR(500) NULL COMMENT 'shown on the profile', ALGORITHM=INPLACE, LOCK=NONE;
