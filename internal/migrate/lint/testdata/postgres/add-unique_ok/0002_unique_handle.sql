-- handle is new in this set; the index is built without blocking writes.
CREATE UNIQUE INDEX CONCURRENTLY users_handle_key ON users (handle);
