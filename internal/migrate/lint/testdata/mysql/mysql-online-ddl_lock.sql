ALTER TABLE users ADD INDEX idx_last_seen (last_seen_at), LOCK=SHARED;
