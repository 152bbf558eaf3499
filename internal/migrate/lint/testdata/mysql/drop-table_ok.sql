-- cutover:phase contract
-- Runs only once no instance of the old version is left.
DROP TABLE legacy_sessions;
