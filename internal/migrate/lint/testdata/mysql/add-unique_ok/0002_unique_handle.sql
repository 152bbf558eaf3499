-- handle is new in this set: the serving version never writes it.
CREATE UNIQUE INDEX uk_users_handle ON users (handle) ALGORITHM=INPLACE LOCK=NONE;
