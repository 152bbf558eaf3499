-- The old version still reads sessions from this table.
DROP TABLE legacy_sessions;
