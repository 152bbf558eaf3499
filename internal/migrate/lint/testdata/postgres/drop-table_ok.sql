-- cutover:phase contract
DROP TABLE IF EXISTS legacy_sessions;
DROP VIEW active_users;
