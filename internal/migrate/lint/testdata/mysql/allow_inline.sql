-- cutover:allow drop-column reason="avatar_url unused since v41; the standby is v42"
ALTER TABLE users DROP COLUMN avatar_url, ALGORITHM=INPLACE, LOCK=NONE;
