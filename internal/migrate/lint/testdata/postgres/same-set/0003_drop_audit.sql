DROP INDEX audit_log_actor_idx;
DROP TABLE audit_log;
