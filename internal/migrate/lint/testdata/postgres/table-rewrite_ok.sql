-- now() is stable: evaluated once, stored as the column's missing value.
ALTER TABLE events ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE events ADD COLUMN meta jsonb DEFAULT '{}'::jsonb;
