-- cutover:phase expand
-- cutover:allow index-not-concurrent reason="feature_flags has 30 rows"
CREATE INDEX feature_flags_owner_idx ON feature_flags (owner);
