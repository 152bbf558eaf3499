-- cutover:allow drop-colum reason="typo in the rule ID: the override does not apply"
ALTER TABLE users DROP COLUMN avatar_url, ALGORITHM=INPLACE, LOCK=NONE;
