-- An ORM restating the type it already has: nothing changes.
ALTER TABLE users ALTER COLUMN views TYPE integer USING views::integer;
