-- MySQL has no NOT VALID: the rule is PostgreSQL's; the check itself is still noted.
ALTER TABLE orders ADD CONSTRAINT chk_total CHECK (total >= 0), ALGORITHM=INPLACE, LOCK=NONE;
