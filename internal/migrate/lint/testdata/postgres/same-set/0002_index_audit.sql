-- audit_log is created by 0001 in this set: nothing reads it yet.
CREATE INDEX audit_log_actor_idx ON audit_log (actor);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_fk FOREIGN KEY (actor) REFERENCES users (email);
ALTER TABLE audit_log ALTER COLUMN action TYPE varchar(32), ALTER COLUMN actor SET NOT NULL;
