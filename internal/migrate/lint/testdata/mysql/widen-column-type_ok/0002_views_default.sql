-- Same type, a new default: neither a widening nor a narrowing.
ALTER TABLE users MODIFY views INT NOT NULL DEFAULT 1, ALGORITHM=INSTANT;
