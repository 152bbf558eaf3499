-- Every writer sets phone since the last deploy; the backfill ran.
ALTER TABLE users MODIFY phone VARCHAR(20) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;
