-- MySQL builds secondary indexes online; the rule is PostgreSQL's.
CREATE INDEX idx_users_email ON users (email) ALGORITHM=INPLACE LOCK=NONE;
